import { bool, count, decimal, jsonb, smallint, varchar, type ModalityTable } from './columns';

/** cardiology_results: rhythm, heart rate variability, ECG intervals and arrhythmia flags. */
export const cardiology: ModalityTable = {
  table: 'cardiology_results',
  json: ['arrhythmia_types'],
  columns: {
    rhythm_classification: varchar(50),
    heart_rate_bpm: smallint({ min: 20, max: 300 }), // CHECK (heart_rate_bpm BETWEEN 20 AND 300)
    regularity: varchar(20),
    r_peaks_detected: count(),
    rmssd_ms: decimal(8, 2),
    sdnn_ms: decimal(8, 2),
    pnn50_percent: decimal(5, 2),
    pr_interval_ms: smallint({ min: 0 }),
    qrs_duration_ms: smallint({ min: 0 }),
    qt_interval_ms: smallint({ min: 0 }),
    qtc_ms: smallint({ min: 0 }),
    arrhythmia_detected: bool(),
    // Each type becomes a DiagnosticReport.conclusionCode: a non-empty code.
    arrhythmia_types: { ...jsonb('array'), items: { type: 'string', minLength: 1 } },
    signal_quality_score: decimal(4, 3),
  },
};
