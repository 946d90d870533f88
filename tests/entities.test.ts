import type { DeepPartial, EntityTarget, ObjectLiteral, Repository } from 'typeorm';
import {
  AccessLog,
  AiExplanation,
  Assessment,
  AuditEvent,
  BiomarkerValue,
  CardiologyResult,
  ChatMessage,
  ChatThread,
  CognitiveResult,
  DailyMetric,
  DermatologyResult,
  ModelRegistryEntry,
  Organization,
  PipelineStage,
  RadiologyResult,
  RetinalResult,
  Role,
  SpeechResult,
  UploadedFile,
  User,
  UserProfile,
  UserRole,
  UserTrend,
} from '../entities';
import { openTestDatabase, type TestDatabase } from './support/database';

/**
 * Save -> load -> relations for every entity, against the migrated schema: proves the column names, types,
 * transformers, defaults and relation join columns line up with what the migrations created.
 */

const PIPELINES = ['retinal', 'speech', 'cardiology', 'radiology', 'dermatology', 'cognitive'] as const;
type Pipeline = (typeof PIPELINES)[number];
const RESULT_RELATION = {
  retinal: 'retinalResult',
  speech: 'speechResult',
  cardiology: 'cardiologyResult',
  radiology: 'radiologyResult',
  dermatology: 'dermatologyResult',
  cognitive: 'cognitiveResult',
} as const satisfies Record<Pipeline, keyof Assessment>;

describe('entities', () => {
  let db: TestDatabase;
  const repo = <T extends ObjectLiteral>(entity: EntityTarget<T>): Repository<T> => db.dataSource.getRepository(entity);
  const save = <T extends ObjectLiteral>(entity: EntityTarget<T>, value: DeepPartial<T>): Promise<T> =>
    repo(entity).save(repo(entity).create(value));

  let org: Organization;
  let otherOrg: Organization;
  let patient: User;
  let clinician: User;
  let patientRole: Role;
  let clinicianRole: Role;
  const assessments = {} as Record<Pipeline, Assessment>;

  beforeAll(async () => {
    db = await openTestDatabase();

    org = await save(Organization, {
      name: 'St. Example Hospital',
      type: 'hospital',
      email: 'it@st-example.test',
      phone: '+1 555 0100',
      address: { line: ['1 Main St'], city: 'Springfield', postalCode: '12345', country: 'US' },
    });
    otherOrg = await save(Organization, { name: 'Elsewhere Clinic', type: 'clinic', subscriptionTier: 'enterprise' });
    patient = await save(User, {
      email: 'jane.doe@example.test',
      firstName: 'Jane',
      lastName: 'Doe',
      dateOfBirth: '1961-02-28',
      gender: 'female',
      organization: org,
    });
    clinician = await save(User, {
      clerkUserId: 'user_2abcClerk',
      email: 'dr.house@st-example.test',
      username: 'dr.house',
      firstName: 'Gregory',
      lastName: 'House',
      organizationId: org.id,
      isVerified: true,
      lastLoginAt: new Date('2026-03-01T08:15:30.123Z'),
    });
    await save(UserProfile, {
      user: patient,
      age: 64,
      fitzpatrickType: 3,
      ethnicity: 'Not Hispanic or Latino',
      medicalHistory: [{ condition: 'type 2 diabetes', since: '2015-06' }],
      allergies: ['penicillin'],
      consentResearch: true,
    });
    patientRole = await save(Role, {
      name: 'patient',
      description: 'Standard patient user',
      permissions: ['view_own_assessments'],
    });
    clinicianRole = await save(Role, { name: 'clinician', permissions: ['view_all_assessments', 'review_assessments'] });
    await save(UserRole, { user: patient, role: patientRole, organization: org, grantedBy: clinician.id });
    await save(UserRole, { userId: clinician.id, roleId: clinicianRole.id, organizationId: null });

    for (const [i, pipelineType] of PIPELINES.entries()) {
      const assessment = await save(Assessment, {
        sessionId: `session-${pipelineType}`,
        user: patient,
        organization: org,
        pipelineType,
        riskScore: 12.5 + i * 10,
        riskLevel: i >= 4 ? 'high' : 'low',
        confidence: 0.875,
        status: 'completed',
        currentStage: 'report',
        processingTimeMs: 1200 + i,
        qualityScore: 0.912,
        results: { pipeline: pipelineType, findings: [{ code: 'x', score: 0.5 }], nested: { ok: true } },
        completedAt: new Date('2026-03-02T10:00:00.250Z'),
      });
      assessments[pipelineType] = assessment;
      await save(PipelineStage, {
        assessment,
        stageName: 'preprocess',
        stageIndex: 0,
        status: 'completed',
        startedAt: new Date('2026-03-02T09:59:58.000Z'),
        completedAt: new Date('2026-03-02T09:59:59.000Z'),
        durationMs: 1000,
      });
      await save(PipelineStage, {
        assessment,
        stageName: 'inference',
        stageIndex: 1,
        status: 'failed',
        errorCode: 'E_TIMEOUT',
        errorMessage: 'model timed out',
        metadata: { retries: 2, gpu: 'A10' },
      });
      await save(AiExplanation, {
        assessment,
        explanationText: `Your ${pipelineType} results are within the expected range.`,
        voiceGenerated: true,
        voiceUrl: 'https://cdn.example.test/voice/1.mp3',
        voiceDurationMs: 4200,
        modelUsed: 'gpt-4o-mini',
        tokensUsed: 321,
        generationTimeMs: 850,
      });
      await save(UploadedFile, {
        user: patient,
        assessment,
        filename: `${pipelineType}.bin`,
        originalFilename: `My ${pipelineType} upload.bin`,
        contentType: 'application/octet-stream',
        fileSizeBytes: 3_145_728,
        storagePath: `s3://medilens/${pipelineType}.bin`,
        fileHash: 'a'.repeat(64),
      });
    }

    await save(RetinalResult, {
      assessment: assessments.retinal,
      drGrade: 2,
      drSeverity: 'moderate',
      eyeLaterality: 'left',
      imageQuality: 'good',
      hemorrhages4Quadrants: false,
      dmePresent: true,
      vesselDensity: 0.4567,
      avRatio: 0.667,
      hemorrhageCount: 3,
      exudateAreaPercent: 1.25,
      heatmapData: 'https://cdn.example.test/heatmap.png',
      vesselSegmentation: { format: 'rle', counts: [1, 2, 3] },
    });
    await save(SpeechResult, {
      assessment: assessments.speech,
      durationSeconds: 30.5,
      sampleRate: 16000,
      audioQualityScore: 0.9,
      jitter: 0.004512,
      shimmer: 0.031234,
      hnr: 21.34,
      cpps: 14.2,
      speechRate: 4.1,
      pauseRatio: 0.18,
      parkinsonsProbability: 0.072,
      cognitiveDeclineProbability: 0.041,
    });
    await save(CardiologyResult, {
      assessment: assessments.cardiology,
      rhythmClassification: 'atrial_fibrillation',
      heartRateBpm: 96,
      regularity: 'irregular',
      rPeaksDetected: 48,
      rmssdMs: 42.17,
      sdnnMs: 55.5,
      pnn50Percent: 12.3,
      qtcMs: 430,
      arrhythmiaDetected: true,
      signalQualityScore: 0.95,
    });
    await save(RadiologyResult, {
      assessment: assessments.radiology,
      modalityType: 'chest_xray',
      primaryCondition: 'pneumonia',
      primaryProbability: 87.25,
      primarySeverity: 'moderate',
      findings: [{ condition: 'consolidation', region: 'right lower lobe', probability: 0.81 }],
      lungsStatus: 'abnormal',
      heartStatus: 'normal',
      qualityScore: 0.88,
    });
    await save(DermatologyResult, {
      assessment: assessments.dermatology,
      primaryClassification: 'melanocytic_nevus',
      melanomaSuspicion: 'low',
      asymmetryScore: 0.2,
      borderScore: 0.15,
      colorScore: 0.3,
      diameterMm: 5.5,
      evolutionScore: 0.05,
      bodyLocation: 'back',
      fitzpatrickType: 3,
      lesionCentered: true,
    });
    await save(CognitiveResult, {
      assessment: assessments.cognitive,
      overallRiskScore: 0.31,
      riskLevel: 'moderate',
      confidenceScore: 0.8,
      attentionScore: 0.72,
      memoryScore: 0.65,
      executiveFunctionScore: 0.7,
      processingSpeedScore: 0.6,
      tasksCompleted: 6,
      validTasks: 5,
      fatigueIndex: 0.12,
      consistencyScore: 0.9,
    });
  });
  afterAll(() => db.close());

  it('round-trips organizations with their defaults and users', async () => {
    const loaded = await repo(Organization).findOneOrFail({ where: { id: org.id }, relations: { users: true } });
    expect(loaded).toMatchObject({
      name: 'St. Example Hospital',
      type: 'hospital',
      email: 'it@st-example.test',
      address: { line: ['1 Main St'], city: 'Springfield', postalCode: '12345', country: 'US' },
      settings: {},
      isActive: true,
      subscriptionTier: 'free',
      deletedAt: null,
    });
    expect(loaded.createdAt).toBeInstanceOf(Date);
    expect(loaded.updatedAt).toBeInstanceOf(Date);
    expect(loaded.users!.map((u) => u.id).sort()).toEqual([patient.id, clinician.id].sort());
    expect((await repo(Organization).findOneByOrFail({ id: otherOrg.id })).subscriptionTier).toBe('enterprise');
  });

  it('round-trips users with profile, roles, organization and their owned rows', async () => {
    const loaded = await repo(User).findOneOrFail({
      where: { id: patient.id },
      relations: {
        organization: true,
        profile: true,
        userRoles: { role: true, organization: true, grantedByUser: true },
        assessments: true,
        uploadedFiles: true,
      },
    });
    expect(loaded).toMatchObject({
      clerkUserId: null,
      email: 'jane.doe@example.test',
      emailVerified: false,
      username: null,
      firstName: 'Jane',
      lastName: 'Doe',
      dateOfBirth: '1961-02-28',
      gender: 'female',
      organizationId: org.id,
      isActive: true,
      isVerified: false,
      lastLoginAt: null,
    });
    expect(loaded.organization!.id).toBe(org.id);
    expect(loaded.profile).toMatchObject({
      userId: patient.id,
      age: 64,
      fitzpatrickType: 3,
      ethnicity: 'Not Hispanic or Latino',
      medicalHistory: [{ condition: 'type 2 diabetes', since: '2015-06' }],
      medications: [],
      allergies: ['penicillin'],
      language: 'en',
      timezone: 'UTC',
      consentResearch: true,
      consentDataSharing: false,
    });
    expect(loaded.profile!.createdAt).toBeInstanceOf(Date);
    expect(loaded.userRoles).toHaveLength(1);
    const [grant] = loaded.userRoles!;
    expect(grant).toMatchObject({
      userId: patient.id,
      roleId: patientRole.id,
      organizationId: org.id,
      grantedBy: clinician.id,
    });
    expect(grant.grantedAt).toBeInstanceOf(Date);
    expect(grant.role).toMatchObject({
      id: patientRole.id,
      name: 'patient',
      description: 'Standard patient user',
      permissions: ['view_own_assessments'],
    });
    expect(grant.organization!.id).toBe(org.id);
    expect(grant.grantedByUser!.id).toBe(clinician.id);
    expect(loaded.assessments!.map((a) => a.pipelineType).sort()).toEqual([...PIPELINES].sort());
    expect(loaded.uploadedFiles).toHaveLength(PIPELINES.length);

    const doctor = await repo(User).findOneOrFail({
      where: { id: clinician.id },
      relations: { userRoles: { role: true }, profile: true },
    });
    expect(doctor).toMatchObject({ clerkUserId: 'user_2abcClerk', username: 'dr.house', isVerified: true, dateOfBirth: null });
    expect(doctor.lastLoginAt).toEqual(new Date('2026-03-01T08:15:30.123Z'));
    expect(doctor.profile).toBeNull();
    expect(doctor.userRoles!.map((r) => [r.role!.name, r.organizationId, r.grantedBy])).toEqual([['clinician', null, null]]);
    // SERIAL ids come back as numbers.
    expect(typeof clinicianRole.id).toBe('number');
    expect(clinicianRole.id).toBeGreaterThan(patientRole.id);
  });

  it('round-trips assessments of all six pipelines with their stages, explanation, file and modality result', async () => {
    for (const pipelineType of PIPELINES) {
      const loaded = await repo(Assessment).findOneOrFail({
        where: { id: assessments[pipelineType].id },
        relations: {
          user: true,
          organization: true,
          pipelineStages: true,
          aiExplanations: true,
          uploadedFiles: true,
          retinalResult: true,
          speechResult: true,
          cardiologyResult: true,
          radiologyResult: true,
          dermatologyResult: true,
          cognitiveResult: true,
        },
      });
      const i = PIPELINES.indexOf(pipelineType);
      expect(loaded).toMatchObject({
        sessionId: `session-${pipelineType}`,
        userId: patient.id,
        organizationId: org.id,
        pipelineType,
        pipelineVersion: '1.0.0',
        riskScore: 12.5 + i * 10,
        confidence: 0.875,
        status: 'completed',
        processingTimeMs: 1200 + i,
        qualityScore: 0.912,
        requiresReview: false,
        reviewReason: null,
        results: { pipeline: pipelineType, findings: [{ code: 'x', score: 0.5 }], nested: { ok: true } },
        deletedAt: null,
      });
      expect(typeof loaded.riskScore).toBe('number');
      expect(loaded.completedAt).toEqual(new Date('2026-03-02T10:00:00.250Z'));
      expect(loaded.createdAt).toBeInstanceOf(Date);
      expect(loaded.user!.id).toBe(patient.id);
      expect(loaded.organization!.id).toBe(org.id);

      const stages = [...loaded.pipelineStages!].sort((a, b) => a.stageIndex - b.stageIndex);
      expect(stages.map((s) => [s.assessmentId, s.stageIndex, s.stageName, s.status])).toEqual([
        [loaded.id, 0, 'preprocess', 'completed'],
        [loaded.id, 1, 'inference', 'failed'],
      ]);
      expect(stages[0]).toMatchObject({ durationMs: 1000, metadata: {}, errorCode: null });
      expect(stages[0].startedAt).toEqual(new Date('2026-03-02T09:59:58.000Z'));
      expect(stages[1]).toMatchObject({ metadata: { retries: 2, gpu: 'A10' }, errorCode: 'E_TIMEOUT', startedAt: null });

      expect(loaded.aiExplanations).toHaveLength(1);
      expect(loaded.aiExplanations![0]).toMatchObject({
        assessmentId: loaded.id,
        voiceGenerated: true,
        voiceDurationMs: 4200,
        tokensUsed: 321,
        generationTimeMs: 850,
      });

      expect(loaded.uploadedFiles).toHaveLength(1);
      expect(loaded.uploadedFiles![0]).toMatchObject({
        userId: patient.id,
        assessmentId: loaded.id,
        fileSizeBytes: 3_145_728,
        storageProvider: 'local',
        processingStatus: 'pending',
        isEncrypted: false,
        fileHash: 'a'.repeat(64),
      });

      // Exactly the modality table of the assessment's pipeline holds a row.
      for (const other of PIPELINES) {
        const result = loaded[RESULT_RELATION[other]];
        if (other === pipelineType) expect(result).toMatchObject({ assessmentId: loaded.id });
        else expect(result).toBeNull();
      }
    }
  });

  it('round-trips the six modality results with numbers, JSONB and defaults intact', async () => {
    const retinal = await repo(RetinalResult).findOneOrFail({
      where: { assessmentId: assessments.retinal.id },
      relations: { assessment: true },
    });
    expect(retinal).toMatchObject({
      drGrade: 2,
      fourTwoOneMet: false,
      hemorrhages4Quadrants: false,
      venousBeading2Quadrants: null,
      dmePresent: true,
      vesselDensity: 0.4567,
      avRatio: 0.667,
      tortuosityIndex: null,
      hemorrhageCount: 3,
      exudateAreaPercent: 1.25,
      heatmapData: 'https://cdn.example.test/heatmap.png',
      vesselSegmentation: { format: 'rle', counts: [1, 2, 3] },
    });
    expect(retinal.assessment!.id).toBe(assessments.retinal.id);

    const speech = await repo(SpeechResult).findOneOrFail({
      where: { assessmentId: assessments.speech.id },
      relations: { assessment: true },
    });
    expect(speech).toMatchObject({
      durationSeconds: 30.5,
      sampleRate: 16000,
      jitter: 0.004512,
      shimmer: 0.031234,
      hnr: 21.34,
      cpps: 14.2,
      parkinsonsProbability: 0.072,
      cognitiveDeclineProbability: 0.041,
      voiceTremor: null,
    });
    expect(speech.assessment!.pipelineType).toBe('speech');

    const cardio = await repo(CardiologyResult).findOneOrFail({
      where: { assessmentId: assessments.cardiology.id },
      relations: { assessment: true },
    });
    expect(cardio).toMatchObject({
      heartRateBpm: 96,
      rmssdMs: 42.17,
      sdnnMs: 55.5,
      pnn50Percent: 12.3,
      qtcMs: 430,
      prIntervalMs: null,
      arrhythmiaDetected: true,
      arrhythmiaTypes: [],
      signalQualityScore: 0.95,
    });
    expect(cardio.assessment!.id).toBe(assessments.cardiology.id);

    const radiology = await repo(RadiologyResult).findOneOrFail({
      where: { assessmentId: assessments.radiology.id },
      relations: { assessment: true },
    });
    expect(radiology).toMatchObject({
      primaryProbability: 87.25,
      findings: [{ condition: 'consolidation', region: 'right lower lobe', probability: 0.81 }],
      qualityScore: 0.88,
      imageQuality: null,
    });
    expect(radiology.assessment!.id).toBe(assessments.radiology.id);

    const derm = await repo(DermatologyResult).findOneOrFail({
      where: { assessmentId: assessments.dermatology.id },
      relations: { assessment: true },
    });
    expect(derm).toMatchObject({ asymmetryScore: 0.2, diameterMm: 5.5, fitzpatrickType: 3, lesionCentered: true });
    expect(derm.assessment!.id).toBe(assessments.dermatology.id);

    const cognitive = await repo(CognitiveResult).findOneOrFail({
      where: { assessmentId: assessments.cognitive.id },
      relations: { assessment: true },
    });
    expect(cognitive).toMatchObject({ overallRiskScore: 0.31, executiveFunctionScore: 0.7, tasksCompleted: 6, validTasks: 5 });
    expect(cognitive.assessment!.id).toBe(assessments.cognitive.id);
    for (const row of [retinal, speech, cardio, radiology, derm, cognitive]) expect(row.createdAt).toBeInstanceOf(Date);
  });

  it('takes biomarker owners from the assessment, whatever the writer supplied', async () => {
    const assessment = assessments.cardiology;
    // Deliberately wrong owners: the trigger must replace both with the assessment's.
    const saved = await save(BiomarkerValue, {
      assessment,
      userId: clinician.id,
      organizationId: otherOrg.id,
      biomarkerName: 'heart_rate',
      biomarkerCategory: 'vitals',
      value: 96.123456,
      unit: '/min',
      normalRangeMin: 60,
      normalRangeMax: 100,
      status: 'normal',
      confidence: 0.98,
      percentile: 55,
    });
    const withoutOrg = await save(BiomarkerValue, {
      assessmentId: assessment.id,
      userId: clinician.id,
      organizationId: null,
      biomarkerName: 'rmssd',
      value: -0.000001,
    });

    const loaded = await repo(BiomarkerValue).findOneOrFail({
      where: { id: saved.id },
      relations: { assessment: true, user: true, organization: true },
    });
    expect(loaded).toMatchObject({
      assessmentId: assessment.id,
      userId: patient.id,
      organizationId: org.id,
      biomarkerName: 'heart_rate',
      biomarkerCategory: 'vitals',
      value: 96.123456,
      unit: '/min',
      normalRangeMin: 60,
      normalRangeMax: 100,
      confidence: 0.98,
      percentile: 55,
    });
    expect(typeof loaded.value).toBe('number');
    expect(loaded.createdAt).toBeInstanceOf(Date);
    expect(loaded.user!.id).toBe(patient.id);
    expect(loaded.organization!.id).toBe(org.id);
    expect(loaded.assessment!.id).toBe(assessment.id);

    expect(await repo(BiomarkerValue).findOneByOrFail({ id: withoutOrg.id })).toMatchObject({
      userId: patient.id,
      organizationId: org.id,
      value: -0.000001,
      normalRangeMin: null,
      percentile: null,
    });

    const viaAssessment = await repo(Assessment).findOneOrFail({
      where: { id: assessment.id },
      relations: { biomarkerValues: true },
    });
    expect(viaAssessment.biomarkerValues!.map((b) => b.biomarkerName).sort()).toEqual(['heart_rate', 'rmssd']);
  });

  it('records an audit event for every assessment through the trigger', async () => {
    const events = await repo(AuditEvent).find({ where: { resourceId: assessments.retinal.id } });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      userId: null,
      organizationId: org.id,
      actorType: 'system',
      eventType: 'assessment_created',
      resourceType: 'assessment',
      action: 'create',
      hipaaRelevant: true,
      phiAccessed: true,
      details: { source: 'trigger', status: 'completed', patient_id: patient.id },
    });
  });

  it('round-trips chat threads with their messages', async () => {
    const thread = await save(ChatThread, {
      user: patient,
      title: 'About my ECG',
      context: { page: 'assessment', assessmentId: assessments.cardiology.id },
      lastMessageAt: new Date('2026-03-03T12:00:01.000Z'),
    });
    await save(ChatMessage, {
      thread,
      role: 'user',
      content: 'What does AF mean?',
      createdAt: new Date('2026-03-03T12:00:00.000Z'),
    });
    await save(ChatMessage, {
      threadId: thread.id,
      role: 'assistant',
      content: 'Atrial fibrillation is an irregular heart rhythm.',
      modelUsed: 'gpt-4o-mini',
      tokensUsed: 42,
      confidence: 0.9,
      sources: [{ title: 'AHA', url: 'https://www.heart.org/' }],
      createdAt: new Date('2026-03-03T12:00:01.000Z'),
    });

    const loaded = await repo(ChatThread).findOneOrFail({
      where: { id: thread.id },
      relations: { user: true, messages: { thread: true } },
      order: { messages: { createdAt: 'ASC' } },
    });
    expect(loaded).toMatchObject({
      userId: patient.id,
      title: 'About my ECG',
      context: { page: 'assessment', assessmentId: assessments.cardiology.id },
      isActive: true,
    });
    expect(loaded.lastMessageAt).toEqual(new Date('2026-03-03T12:00:01.000Z'));
    expect(loaded.user!.id).toBe(patient.id);
    expect(loaded.messages!.map((m) => [m.role, m.threadId, m.thread!.id])).toEqual([
      ['user', thread.id, thread.id],
      ['assistant', thread.id, thread.id],
    ]);
    expect(loaded.messages![0]).toMatchObject({ sources: [], confidence: null, tokensUsed: null });
    expect(loaded.messages![1]).toMatchObject({
      sources: [{ title: 'AHA', url: 'https://www.heart.org/' }],
      confidence: 0.9,
      tokensUsed: 42,
    });
    const viaUser = await repo(User).findOneOrFail({ where: { id: patient.id }, relations: { chatThreads: true } });
    expect(viaUser.chatThreads!.map((t) => t.id)).toEqual([thread.id]);
  });

  it('round-trips daily metrics with DATE as a string and counter defaults', async () => {
    const saved = await save(DailyMetric, {
      metricDate: '2026-01-31',
      organization: org,
      totalAssessments: 6,
      retinalCount: 1,
      cognitiveCount: 1,
      avgProcessingTimeMs: 1202,
      avgConfidence: 0.875,
      avgQualityScore: 0.912,
      highRiskCount: 2,
    });
    const platformWide = await save(DailyMetric, { metricDate: '2026-01-31', organizationId: null });
    expect(typeof saved.id).toBe('number');

    const loaded = await repo(DailyMetric).findOneOrFail({ where: { id: saved.id }, relations: { organization: true } });
    expect(loaded).toMatchObject({
      metricDate: '2026-01-31',
      organizationId: org.id,
      totalAssessments: 6,
      retinalCount: 1,
      speechCount: 0,
      dermatologyCount: 0,
      cognitiveCount: 1,
      avgProcessingTimeMs: 1202,
      avgConfidence: 0.875,
      avgQualityScore: 0.912,
      lowRiskCount: 0,
      highRiskCount: 2,
      activeUsers: 0,
      newUsers: 0,
    });
    expect(loaded.organization!.id).toBe(org.id);
    expect(loaded.createdAt).toBeInstanceOf(Date);
    const platform = await repo(DailyMetric).findOneOrFail({ where: { id: platformWide.id }, relations: { organization: true } });
    expect(platform).toMatchObject({
      metricDate: '2026-01-31',
      organizationId: null,
      organization: null,
      totalAssessments: 0,
      avgConfidence: null,
    });
  });

  it('round-trips user trends', async () => {
    const saved = await save(UserTrend, {
      user: patient,
      pipelineType: 'cardiology',
      periodStart: '2026-01-01',
      periodEnd: '2026-03-31',
      assessmentCount: 4,
      avgRiskScore: 33.75,
      riskTrend: 'improving',
      slope: -0.012345,
    });
    const loaded = await repo(UserTrend).findOneOrFail({ where: { id: saved.id }, relations: { user: true } });
    expect(loaded).toMatchObject({
      userId: patient.id,
      pipelineType: 'cardiology',
      periodStart: '2026-01-01',
      periodEnd: '2026-03-31',
      assessmentCount: 4,
      avgRiskScore: 33.75,
      riskTrend: 'improving',
      slope: -0.012345,
    });
    expect(loaded.user!.id).toBe(patient.id);
    const viaUser = await repo(User).findOneOrFail({ where: { id: patient.id }, relations: { trends: true } });
    expect(viaUser.trends!.map((t) => t.id)).toEqual([saved.id]);
  });

  it('round-trips model registry entries', async () => {
    const saved = await save(ModelRegistryEntry, {
      pipelineType: 'retinal',
      modelName: 'DR Classifier v4',
      version: '4.0.0',
      framework: 'pytorch',
      modelPath: 's3://models/dr-v4.pt',
      accuracy: 0.93,
      precisionScore: 0.9123,
      recallScore: 0.8875,
      f1Score: 0.8997,
      isActive: true,
      deployedAt: new Date('2026-01-15T00:00:00.000Z'),
    });
    expect(await repo(ModelRegistryEntry).findOneByOrFail({ id: saved.id })).toMatchObject({
      pipelineType: 'retinal',
      modelName: 'DR Classifier v4',
      version: '4.0.0',
      config: {},
      accuracy: 0.93,
      precisionScore: 0.9123,
      recallScore: 0.8875,
      f1Score: 0.8997,
      isActive: true,
      deployedAt: new Date('2026-01-15T00:00:00.000Z'),
      deprecatedAt: null,
    });
  });

  it('round-trips audit events written by the gateway, keeping ids of deleted users', async () => {
    const goneUser = await save(User, { firstName: 'Temporary' });
    const saved = await save(AuditEvent, {
      userId: goneUser.id,
      organizationId: org.id,
      actorType: 'user',
      actorIp: '203.0.113.7',
      eventType: 'rest',
      resourceType: 'Patient',
      resourceId: patient.id,
      action: 'R',
      details: { subtype: 'read', outcome: '0', requestId: 'req-1' },
      hipaaRelevant: true,
      phiAccessed: true,
      sessionId: 'sess-1',
      userAgent: 'jest',
    });
    // No foreign key: deleting the actor leaves the log untouched.
    await repo(User).delete({ id: goneUser.id });
    const loaded = await repo(AuditEvent).findOneByOrFail({ id: saved.id });
    expect(loaded).toMatchObject({
      userId: goneUser.id,
      actorIp: '203.0.113.7',
      resourceId: patient.id,
      details: { subtype: 'read', outcome: '0', requestId: 'req-1' },
      hipaaRelevant: true,
    });
    expect(loaded.createdAt).toBeInstanceOf(Date);
  });

  it('round-trips access logs into the monthly and the default partition', async () => {
    const now = await save(AccessLog, {
      userId: patient.id,
      endpoint: '/fhir/Patient',
      method: 'GET',
      statusCode: 200,
      responseTimeMs: 12,
      ipAddress: '2001:db8::1',
      userAgent: 'jest',
    });
    const future = await save(AccessLog, {
      endpoint: '/fhir/metadata',
      method: 'GET',
      createdAt: new Date('2031-07-04T00:00:00.000Z'),
    });
    expect(typeof now.id).toBe('number');
    expect(now.createdAt).toBeInstanceOf(Date);
    expect(future.id).toBeGreaterThan(now.id);

    const loadedNow = await repo(AccessLog).findOneByOrFail({ id: now.id });
    expect(loadedNow).toMatchObject({
      id: now.id,
      userId: patient.id,
      endpoint: '/fhir/Patient',
      method: 'GET',
      statusCode: 200,
      responseTimeMs: 12,
      ipAddress: '2001:db8::1',
    });
    const loadedFuture = await repo(AccessLog).findOneByOrFail({ id: future.id });
    expect(loadedFuture).toMatchObject({ userId: null, statusCode: null, createdAt: new Date('2031-07-04T00:00:00.000Z') });

    // created_at picks the partition: its UTC month's, when the migration created one, else the default.
    const month = `access_logs_${now.createdAt.toISOString().slice(0, 7).replace('-', '_')}`;
    const [{ monthly }]: { monthly: string | null }[] = await db.dataSource.query(
      `SELECT to_regclass($1)::text AS monthly`,
      [month],
    );
    const partitions: { partition: string }[] = await db.dataSource.query(
      `SELECT tableoid::regclass::text AS partition FROM access_logs WHERE id = ANY($1::bigint[]) ORDER BY id`,
      [[now.id, future.id]],
    );
    expect(partitions.map((p) => p.partition)).toEqual([monthly ?? 'access_logs_default', 'access_logs_default']);
    expect(monthly).toBe(month);
  });
});
