import { conflict } from '../fhir/outcomes';
import { clientErrorOf as refusal, type RefusalNames } from '../write/database-errors';

/** Where a constraint's column lives in the document. */
function fieldOf(table: string | undefined, column: string | undefined): string | null {
  if (!column) return null;
  switch (table) {
    case 'assessments':
      return column;
    case 'biomarker_values':
      return `biomarkers[*].${column.replace(/^biomarker_/, '')}`;
    case 'pipeline_stages':
      return `stages[*].${column.replace(/^stage_/, '')}`;
    case 'ai_explanations':
      return `explanation.${column === 'explanation_text' ? 'text' : column}`;
    default:
      return table?.endsWith('_results') ? `result.${column}` : null;
  }
}

/**
 * The client error for a database error met while ingesting a document (see src/write/database-errors.ts).
 * `fixedIds`: the fields holding ids the caller chose (`biomarkers[3].id`); generated ids do not collide.
 */
export function clientErrorOf(err: unknown, fixedIds: readonly string[] = []): unknown {
  const names: RefusalNames = {
    subject: 'The document',
    field: fieldOf,
    unique: {
      // unique_violation: an id or session already taken (in another organization, invisible here).
      assessments_session_id_key: () => conflict('session_id is already used by another assessment', ['session_id']),
      assessments_pkey: () => conflict('id is already the id of another assessment', ['id']),
      // Postgres leaves the key out of the message on a table with row-level security: name every fixed id.
      biomarker_values_pkey: () => {
        const fields = fixedIds.length ? [...fixedIds] : ['biomarkers'];
        return conflict(`A biomarker id is already the id of another Observation: ${fields.join(', ')}`, fields);
      },
    },
  };
  return refusal(err, names);
}
