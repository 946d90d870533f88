import { count, decimal, vocabulary, type ModalityTable } from './columns';

export const RISK_LEVELS = ['low', 'moderate', 'high', 'critical'] as const;

/** cognitive_results: overall risk, domain scores (0-1) and task metrics. */
export const cognitive: ModalityTable = {
  table: 'cognitive_results',
  json: [],
  columns: {
    overall_risk_score: decimal(4, 3),
    risk_level: vocabulary(RISK_LEVELS, 20),
    confidence_score: decimal(4, 3),
    attention_score: decimal(4, 3),
    memory_score: decimal(4, 3),
    executive_function_score: decimal(4, 3),
    processing_speed_score: decimal(4, 3),
    tasks_completed: count(),
    valid_tasks: count(),
    fatigue_index: decimal(4, 3),
    consistency_score: decimal(4, 3),
  },
};
