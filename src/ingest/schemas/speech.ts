import { count, decimal, type ModalityTable } from './columns';

/** speech_results: recording metadata, acoustic and fluency measures, condition probabilities. */
export const speech: ModalityTable = {
  table: 'speech_results',
  json: [],
  columns: {
    duration_seconds: decimal(6, 2, { min: 0 }),
    sample_rate: count(),
    audio_quality_score: decimal(4, 3),
    jitter: decimal(8, 6),
    shimmer: decimal(8, 6),
    hnr: decimal(6, 2),
    cpps: decimal(6, 2),
    speech_rate: decimal(5, 2),
    pause_ratio: decimal(4, 3),
    voice_tremor: decimal(4, 3),
    articulation_clarity: decimal(4, 3),
    prosody_variation: decimal(6, 2),
    fluency_score: decimal(4, 3),
    parkinsons_probability: decimal(4, 3),
    cognitive_decline_probability: decimal(4, 3),
  },
};
