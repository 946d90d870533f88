import crypto from 'node:crypto';
import { QueryFailedError, type DeepPartial, type EntityTarget, type ObjectLiteral, type Repository } from 'typeorm';
import {
  Assessment,
  AuditEvent,
  BiomarkerValue,
  CardiologyResult,
  Organization,
  PipelineStage,
  RetinalResult,
  Role,
  User,
  UserProfile,
  UserRole,
} from '../entities';
import { openTestDatabase, type TestDatabase } from './support/database';

/** The database, not the gateway, enforces the schema's rules: a bad row fails whole and leaves nothing behind. */

const CHECK_VIOLATION = '23514';
const UNIQUE_VIOLATION = '23505';
const FOREIGN_KEY_VIOLATION = '23503';

describe('constraints', () => {
  let db: TestDatabase;
  const repo = <T extends ObjectLiteral>(entity: EntityTarget<T>): Repository<T> => db.dataSource.getRepository(entity);
  const save = <T extends ObjectLiteral>(entity: EntityTarget<T>, value: DeepPartial<T>): Promise<T> =>
    repo(entity).save(repo(entity).create(value));

  let org: Organization;
  let patient: User;
  let sessions = 0;
  type AssessmentExtras = Partial<Pick<Assessment, 'sessionId' | 'riskScore' | 'confidence'>>;
  const newAssessment = (pipelineType: string, extra: AssessmentExtras = {}) => ({
    sessionId: `constraints-${++sessions}`,
    userId: patient.id,
    organizationId: org.id,
    pipelineType,
    ...extra,
  });

  /**
   * Runs a write that must fail with the given SQLSTATE and constraint, and checks that the row counts of
   * `unchanged` (the target table and anything a trigger would have written) are the same afterwards.
   */
  async function expectRejected(
    write: () => Promise<unknown>,
    expected: { code: string; constraint: string | undefined },
    unchanged: EntityTarget<ObjectLiteral>[],
  ): Promise<void> {
    const before = await Promise.all(unchanged.map((e) => repo(e).count()));
    const error = await write().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(QueryFailedError);
    const { code, constraint } = (error as QueryFailedError<Error & { code?: string; constraint?: string }>).driverError;
    expect({ code, constraint }).toEqual(expected);
    expect(await Promise.all(unchanged.map((e) => repo(e).count()))).toEqual(before);
  }

  beforeAll(async () => {
    db = await openTestDatabase();
    org = await save(Organization, { name: 'Constraint Clinic', type: 'clinic' });
    patient = await save(User, { email: 'constraints@example.test', organization: org });
  });
  afterAll(() => db.close());

  describe('CHECK constraints reject out-of-range values', () => {
    it.each([
      ['assessments.risk_score 101', 'assessments_risk_score_check', { riskScore: 101 }],
      ['assessments.risk_score -0.01', 'assessments_risk_score_check', { riskScore: -0.01 }],
      ['assessments.confidence 1.5', 'assessments_confidence_check', { confidence: 1.5 }],
    ])('%s', async (_, constraint, values) => {
      // audit_events too: the AFTER INSERT audit trigger must not have left a row for the failed insert.
      await expectRejected(
        () => repo(Assessment).insert(newAssessment('retinal', values)),
        { code: CHECK_VIOLATION, constraint },
        [Assessment, AuditEvent],
      );
    });

    it('biomarker_values.percentile 120', async () => {
      const assessment = await save(Assessment, newAssessment('speech'));
      await expectRejected(
        () =>
          repo(BiomarkerValue).insert({
            assessmentId: assessment.id,
            userId: patient.id,
            biomarkerName: 'jitter',
            value: 0.01,
            percentile: 120,
          }),
        { code: CHECK_VIOLATION, constraint: 'biomarker_values_percentile_check' },
        [BiomarkerValue],
      );
    });

    it('cardiology_results.heart_rate_bpm 10 and 301', async () => {
      const assessment = await save(Assessment, newAssessment('cardiology'));
      for (const heartRateBpm of [10, 301]) {
        await expectRejected(
          () => repo(CardiologyResult).insert({ assessmentId: assessment.id, heartRateBpm }),
          { code: CHECK_VIOLATION, constraint: 'cardiology_results_heart_rate_bpm_check' },
          [CardiologyResult],
        );
      }
    });

    it('retinal_results.dr_grade 5', async () => {
      const assessment = await save(Assessment, newAssessment('retinal'));
      await expectRejected(
        () => repo(RetinalResult).insert({ assessmentId: assessment.id, drGrade: 5 }),
        { code: CHECK_VIOLATION, constraint: 'retinal_results_dr_grade_check' },
        [RetinalResult],
      );
    });

    it.each([
      ['user_profiles.age 121', 'user_profiles_age_check', { age: 121 }],
      ['user_profiles.age -1', 'user_profiles_age_check', { age: -1 }],
      ['user_profiles.fitzpatrick_type 7', 'user_profiles_fitzpatrick_type_check', { fitzpatrickType: 7 }],
      ['user_profiles.fitzpatrick_type 0', 'user_profiles_fitzpatrick_type_check', { fitzpatrickType: 0 }],
    ])('%s', async (_, constraint, values) => {
      const user = await save(User, { organizationId: org.id });
      await expectRejected(
        () => repo(UserProfile).insert({ userId: user.id, ...values }),
        { code: CHECK_VIOLATION, constraint },
        [UserProfile],
      );
    });

    it('accepts the boundary values of every range', async () => {
      for (const [riskScore, confidence] of [
        [0, 0],
        [100, 1],
      ]) {
        const assessment = await save(Assessment, newAssessment('cardiology', { riskScore, confidence }));
        await save(BiomarkerValue, { assessment, biomarkerName: 'hr', value: 1, percentile: riskScore });
        await save(CardiologyResult, { assessment, heartRateBpm: riskScore === 0 ? 20 : 300 });
      }
      for (const drGrade of [0, 4]) {
        await save(RetinalResult, { assessment: await save(Assessment, newAssessment('retinal')), drGrade });
      }
      for (const [age, fitzpatrickType] of [
        [0, 1],
        [120, 6],
      ]) {
        await save(UserProfile, { user: await save(User, {}), age, fitzpatrickType });
      }
    });
  });

  describe('UNIQUE constraints reject duplicates', () => {
    it('assessments.session_id', async () => {
      const first = await save(Assessment, newAssessment('retinal'));
      await expectRejected(
        () => repo(Assessment).insert(newAssessment('speech', { sessionId: first.sessionId })),
        { code: UNIQUE_VIOLATION, constraint: 'assessments_session_id_key' },
        [Assessment, AuditEvent],
      );
    });

    it('users.email', async () => {
      await expectRejected(
        () => repo(User).insert({ email: patient.email }),
        { code: UNIQUE_VIOLATION, constraint: 'users_email_key' },
        [User],
      );
    });

    it('one modality result per assessment', async () => {
      const assessment = await save(Assessment, newAssessment('retinal'));
      await save(RetinalResult, { assessment, drGrade: 1 });
      await expectRejected(
        () => repo(RetinalResult).insert({ assessmentId: assessment.id, drGrade: 2 }),
        { code: UNIQUE_VIOLATION, constraint: 'retinal_results_assessment_id_key' },
        [RetinalResult],
      );
    });

    it('one profile per user', async () => {
      const user = await save(User, {});
      await save(UserProfile, { user });
      await expectRejected(
        () => repo(UserProfile).insert({ userId: user.id }),
        { code: UNIQUE_VIOLATION, constraint: 'user_profiles_user_id_key' },
        [UserProfile],
      );
    });

    it('user_roles treats a global grant (organization null) as one value: NULLS NOT DISTINCT', async () => {
      const role = await save(Role, { name: 'researcher' });
      await save(UserRole, { userId: patient.id, roleId: role.id, organizationId: null });
      await expectRejected(
        () => repo(UserRole).insert({ userId: patient.id, roleId: role.id, organizationId: null }),
        { code: UNIQUE_VIOLATION, constraint: 'user_roles_user_id_role_id_organization_id_key' },
        [UserRole],
      );
      // The same role within an organization is a different grant.
      await save(UserRole, { userId: patient.id, roleId: role.id, organizationId: org.id });
    });
  });

  describe('FOREIGN KEY constraints reject dangling references', () => {
    it('pipeline_stages.assessment_id', async () => {
      await expectRejected(
        () =>
          repo(PipelineStage).insert({ assessmentId: crypto.randomUUID(), stageName: 'x', stageIndex: 0, status: 'pending' }),
        { code: FOREIGN_KEY_VIOLATION, constraint: 'pipeline_stages_assessment_id_fkey' },
        [PipelineStage],
      );
    });

    it('users.organization_id', async () => {
      await expectRejected(
        () => repo(User).insert({ organizationId: crypto.randomUUID() }),
        { code: FOREIGN_KEY_VIOLATION, constraint: 'users_organization_id_fkey' },
        [User],
      );
    });

    it('biomarker_values.assessment_id, caught by the owner-copy trigger before the foreign key', async () => {
      // The trigger raises foreign_key_violation itself (it cannot copy owners from a missing assessment),
      // so there is no constraint name.
      await expectRejected(
        () =>
          repo(BiomarkerValue).insert({ assessmentId: crypto.randomUUID(), userId: patient.id, biomarkerName: 'x', value: 1 }),
        { code: FOREIGN_KEY_VIOLATION, constraint: undefined },
        [BiomarkerValue],
      );
    });
  });
});
