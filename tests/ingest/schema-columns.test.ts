import type { SchemaObject } from 'ajv';
import { PIPELINES } from '../../mappings/pipeline-result';
import { documentSchema, MODALITIES } from '../../src/ingest/schemas';
import { openTestDatabase, testBackend, type TestDatabase } from '../support/database';

/**
 * The document schemas and the tables they write must agree, so the database is never the one that
 * rejects a document: every column is in the schema with its SQL type (length, precision), and every
 * CHECK constraint's column is bounded by the schema. Fails when a migration changes a column.
 */

type Properties = Record<string, SchemaObject>;
const props = (schema: SchemaObject): Properties => schema.properties as Properties;
const items = (schema: SchemaObject): SchemaObject => schema.items as SchemaObject;

/** Document field -> column, for the tables whose fields are renamed. */
const TABLES: { table: string; schema: Properties; renamed?: Record<string, string>; notFromDocument: string[] }[] = [
  {
    table: 'assessments',
    schema: props(documentSchema),
    renamed: { pipeline: 'pipeline_type' },
    notFromDocument: ['user_id', 'organization_id', 'current_stage', 'results', 'updated_at', 'deleted_at', 'version_id', 'version_at'],
  },
  {
    table: 'biomarker_values',
    schema: props(items(props(documentSchema).biomarkers)),
    renamed: { name: 'biomarker_name', category: 'biomarker_category' },
    notFromDocument: ['assessment_id', 'user_id', 'organization_id', 'created_at', 'version_id', 'version_at'],
  },
  {
    table: 'pipeline_stages',
    schema: props(items(props(documentSchema).stages)),
    renamed: { name: 'stage_name', index: 'stage_index' },
    notFromDocument: ['id', 'assessment_id'],
  },
  {
    table: 'ai_explanations',
    schema: props(props(documentSchema).explanation),
    renamed: { text: 'explanation_text' },
    notFromDocument: ['id', 'assessment_id'],
  },
  ...PIPELINES.map((p) => ({ table: MODALITIES[p].table, schema: MODALITIES[p].columns as Properties, notFromDocument: ['id', 'assessment_id', 'created_at'] })),
];

const DOCUMENT_ONLY = new Set(['patient', 'stages', 'biomarkers', 'result', 'explanation']);

interface Column {
  table_name: string;
  column_name: string;
  data_type: string;
  character_maximum_length: number | null;
  numeric_precision: number | null;
  numeric_scale: number | null;
}

function sqlType(c: Column): string {
  switch (c.data_type) {
    case 'character varying':
      return `VARCHAR(${c.character_maximum_length})`;
    case 'numeric':
      return `DECIMAL(${c.numeric_precision},${c.numeric_scale})`;
    case 'timestamp with time zone':
      return 'TIMESTAMPTZ';
    case 'integer':
      return 'INT';
    default:
      return c.data_type.toUpperCase();
  }
}

describe(`the ingestion schemas match the tables (${testBackend()})`, () => {
  let db: TestDatabase;
  let columns: Column[];
  let checked: { table: string; column: string }[];

  beforeAll(async () => {
    db = await openTestDatabase();
    const names = TABLES.map((t) => t.table);
    columns = await db.dataSource.query(
      `SELECT table_name, column_name, data_type, character_maximum_length, numeric_precision, numeric_scale
         FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ANY($1)`,
      [names],
    );
    checked = await db.dataSource.query(
      `SELECT c.conrelid::regclass::text AS table, a.attname AS column
         FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)
        WHERE c.contype = 'c' AND c.conrelid::regclass::text = ANY($1)`,
      [names],
    );
  });
  afterAll(() => db?.close());

  it.each(TABLES.map((t) => [t.table, t] as const))('%s: every column, with its type', (table, spec) => {
    const toColumn = (field: string) => spec.renamed?.[field] ?? field;
    const fromSchema = Object.keys(spec.schema).filter((f) => !(table === 'assessments' && DOCUMENT_ONLY.has(f)));
    const inTable = columns.filter((c) => c.table_name === table && !spec.notFromDocument.includes(c.column_name));
    expect(fromSchema.map(toColumn).sort()).toEqual(inTable.map((c) => c.column_name).sort());
    for (const field of fromSchema) {
      const column = inTable.find((c) => c.column_name === toColumn(field))!;
      expect([table, field, spec.schema[field].description]).toEqual([table, field, sqlType(column)]);
    }
  });

  it('every CHECK constraint of these tables bounds its column in the schema', () => {
    expect(checked.length).toBeGreaterThanOrEqual(5);
    for (const { table, column } of checked) {
      const spec = TABLES.find((t) => t.table === table)!;
      const field = Object.entries(spec.renamed ?? {}).find(([, c]) => c === column)?.[0] ?? column;
      const schema = spec.schema[field];
      expect([table, column, typeof schema?.minimum, typeof schema?.maximum]).toEqual([table, column, 'number', 'number']);
    }
  });
});
