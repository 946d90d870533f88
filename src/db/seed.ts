import type { DataSource } from 'typeorm';

/**
 * Reference data every MediLens database needs: the four roles and one model per pipeline (seed §7.2;
 * the seed names models for four pipelines only, dermatology and cognitive are added here, since every
 * pipeline's results name the model that produced them: their FHIR Device).
 *
 * Idempotent by ON CONFLICT DO NOTHING: a second run inserts nothing and changes nothing, and a role or
 * model an operator has since edited (permissions, is_active) is left as they left it.
 */

export interface ReferenceRole {
  name: string;
  description: string;
  permissions: string[];
}

export const REFERENCE_ROLES: readonly ReferenceRole[] = [
  { name: 'patient', description: 'Standard patient user', permissions: ['view_own_assessments', 'create_assessment'] },
  {
    name: 'clinician',
    description: 'Healthcare provider',
    permissions: ['view_all_assessments', 'create_assessment', 'review_assessments'],
  },
  { name: 'admin', description: 'System administrator', permissions: ['manage_users', 'manage_organizations', 'view_audit_logs'] },
  { name: 'researcher', description: 'Research access', permissions: ['view_anonymized_data', 'export_data'] },
];

export const PIPELINES = ['retinal', 'speech', 'cardiology', 'radiology', 'dermatology', 'cognitive'] as const;
export type Pipeline = (typeof PIPELINES)[number];

export interface ReferenceModel {
  /** Fixed, so the FHIR Device id of a model is the same in every database. */
  id: string;
  pipeline: Pipeline;
  modelName: string;
  version: string;
  framework: string;
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  deployedAt: string;
}

export const REFERENCE_MODELS: readonly ReferenceModel[] = [
  // Accuracy as in seed §7.2; precision/recall/f1 added (f1 is their harmonic mean, to 4 places).
  {
    id: '4f6b2c1e-9d3a-4e5f-8a7b-1c2d3e4f5a01', pipeline: 'retinal', modelName: 'DR Classifier v4', version: '4.0.0',
    framework: 'pytorch', accuracy: 0.93, precision: 0.9125, recall: 0.9418, f1: 0.9269, deployedAt: '2025-03-17T09:00:00Z',
  },
  {
    id: '4f6b2c1e-9d3a-4e5f-8a7b-1c2d3e4f5a02', pipeline: 'speech', modelName: 'Voice Biomarker Extractor', version: '3.0.0',
    framework: 'pytorch', accuracy: 0.952, precision: 0.9436, recall: 0.9581, f1: 0.9508, deployedAt: '2025-04-02T09:00:00Z',
  },
  {
    id: '4f6b2c1e-9d3a-4e5f-8a7b-1c2d3e4f5a03', pipeline: 'cardiology', modelName: 'ECG Analyzer', version: '2.1.0',
    framework: 'onnx', accuracy: 0.998, precision: 0.9971, recall: 0.9964, f1: 0.9967, deployedAt: '2025-02-10T09:00:00Z',
  },
  {
    id: '4f6b2c1e-9d3a-4e5f-8a7b-1c2d3e4f5a04', pipeline: 'radiology', modelName: 'Chest X-Ray Classifier', version: '1.5.0',
    framework: 'tensorflow', accuracy: 0.978, precision: 0.9612, recall: 0.9547, f1: 0.9579, deployedAt: '2025-05-21T09:00:00Z',
  },
  {
    id: '4f6b2c1e-9d3a-4e5f-8a7b-1c2d3e4f5a05', pipeline: 'dermatology', modelName: 'Skin Lesion Classifier', version: '2.0.0',
    framework: 'pytorch', accuracy: 0.914, precision: 0.8873, recall: 0.9032, f1: 0.8952, deployedAt: '2025-06-30T09:00:00Z',
  },
  {
    id: '4f6b2c1e-9d3a-4e5f-8a7b-1c2d3e4f5a06', pipeline: 'cognitive', modelName: 'Cognitive Battery Scorer', version: '1.2.0',
    framework: 'sklearn', accuracy: 0.887, precision: 0.8714, recall: 0.8659, f1: 0.8686, deployedAt: '2025-07-14T09:00:00Z',
  },
];

/** The model version a pipeline's results are produced with (assessments.pipeline_version). */
export function modelVersion(pipeline: Pipeline): string {
  return REFERENCE_MODELS.find((m) => m.pipeline === pipeline)!.version;
}

/** Inserts what is missing; returns how many roles and models this call inserted (0 and 0 when already seeded). */
export async function seedReferenceData(ds: DataSource): Promise<{ roles: number; models: number }> {
  return ds.transaction(async (tx) => {
    const roles = await tx.query(
      `INSERT INTO roles (name, description, permissions)
       SELECT name, description, permissions FROM unnest($1::text[], $2::text[], $3::jsonb[]) AS r(name, description, permissions)
       ON CONFLICT (name) DO NOTHING
       RETURNING id`,
      [
        REFERENCE_ROLES.map((r) => r.name),
        REFERENCE_ROLES.map((r) => r.description),
        REFERENCE_ROLES.map((r) => JSON.stringify(r.permissions)),
      ],
    );
    const models = await tx.query(
      `INSERT INTO model_registry (id, pipeline_type, model_name, version, framework, model_path, config,
                                   accuracy, precision_score, recall_score, f1_score, is_active, deployed_at)
       SELECT id, pipeline_type, model_name, version, framework, model_path, config,
              accuracy, precision_score, recall_score, f1_score, true, deployed_at
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[],
                     $8::numeric[], $9::numeric[], $10::numeric[], $11::numeric[], $12::timestamptz[])
           AS m(id, pipeline_type, model_name, version, framework, model_path, config,
                accuracy, precision_score, recall_score, f1_score, deployed_at)
       ON CONFLICT DO NOTHING
       RETURNING id`,
      [
        REFERENCE_MODELS.map((m) => m.id),
        REFERENCE_MODELS.map((m) => m.pipeline),
        REFERENCE_MODELS.map((m) => m.modelName),
        REFERENCE_MODELS.map((m) => m.version),
        REFERENCE_MODELS.map((m) => m.framework),
        REFERENCE_MODELS.map((m) => `models/${m.pipeline}/${m.version}/model.${m.framework === 'onnx' ? 'onnx' : 'bin'}`),
        REFERENCE_MODELS.map((m) => JSON.stringify({ input: inputOf(m.pipeline) })),
        REFERENCE_MODELS.map((m) => m.accuracy),
        REFERENCE_MODELS.map((m) => m.precision),
        REFERENCE_MODELS.map((m) => m.recall),
        REFERENCE_MODELS.map((m) => m.f1),
        REFERENCE_MODELS.map((m) => m.deployedAt),
      ],
    );
    return { roles: (roles as unknown[]).length, models: (models as unknown[]).length };
  });
}

function inputOf(pipeline: Pipeline): string {
  const inputs: Record<Pipeline, string> = {
    retinal: 'fundus_image',
    speech: 'voice_recording',
    cardiology: 'ecg_lead_ii',
    radiology: 'chest_xray',
    dermatology: 'dermoscopy_image',
    cognitive: 'task_battery',
  };
  return inputs[pipeline];
}
