import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The MediLens tables of the seed design (§3, §4), in dependency order, with the seed's defects fixed.
 * Every deviation from the seed DDL is listed in the README's schema-deviation table.
 */
export class CoreSchema1767225600000 implements MigrationInterface {
  name = 'CoreSchema1767225600000';

  async up(q: QueryRunner): Promise<void> {
    // Identity & access. organizations comes first: the seed references it from users before creating it.
    await q.query(`
      CREATE TABLE organizations (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        name VARCHAR(255) NOT NULL,
        type VARCHAR(50) NOT NULL,
        email VARCHAR(255),
        phone VARCHAR(50),
        address JSONB,
        settings JSONB DEFAULT '{}',
        is_active BOOLEAN DEFAULT TRUE,
        subscription_tier VARCHAR(50) DEFAULT 'free',
        created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
        updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
        deleted_at TIMESTAMPTZ
      );
      CREATE INDEX idx_organizations_type ON organizations(type) WHERE deleted_at IS NULL;

      -- clerk_user_id and email are nullable: hospital-registered patients have neither (still UNIQUE).
      CREATE TABLE users (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        clerk_user_id VARCHAR(255) UNIQUE,
        email VARCHAR(255) UNIQUE,
        email_verified BOOLEAN DEFAULT FALSE,
        username VARCHAR(100) UNIQUE,
        first_name VARCHAR(100),
        last_name VARCHAR(100),
        date_of_birth DATE,
        gender VARCHAR(20),
        organization_id UUID REFERENCES organizations(id) ON DELETE SET NULL,
        is_active BOOLEAN DEFAULT TRUE,
        is_verified BOOLEAN DEFAULT FALSE,
        created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
        updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
        last_login_at TIMESTAMPTZ,
        deleted_at TIMESTAMPTZ
      );
      CREATE INDEX idx_users_org ON users(organization_id) WHERE deleted_at IS NULL;
      CREATE INDEX idx_users_active ON users(is_active, deleted_at) WHERE deleted_at IS NULL;

      CREATE TABLE user_profiles (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id UUID UNIQUE NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        age INT CHECK (age >= 0 AND age <= 120),
        fitzpatrick_type SMALLINT CHECK (fitzpatrick_type BETWEEN 1 AND 6),
        ethnicity VARCHAR(100),
        medical_history JSONB DEFAULT '[]',
        medications JSONB DEFAULT '[]',
        allergies JSONB DEFAULT '[]',
        language VARCHAR(10) DEFAULT 'en',
        timezone VARCHAR(50) DEFAULT 'UTC',
        consent_research BOOLEAN DEFAULT FALSE,
        consent_data_sharing BOOLEAN DEFAULT FALSE,
        created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
        updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
      );

      CREATE TABLE roles (
        id SERIAL PRIMARY KEY,
        name VARCHAR(50) UNIQUE NOT NULL,
        description TEXT,
        permissions JSONB DEFAULT '[]',
        created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
      );

      CREATE TABLE user_roles (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        role_id INT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
        organization_id UUID REFERENCES organizations(id) ON DELETE CASCADE,
        granted_at TIMESTAMPTZ DEFAULT NOW(),
        granted_by UUID REFERENCES users(id) ON DELETE SET NULL,
        UNIQUE NULLS NOT DISTINCT (user_id, role_id, organization_id)
      );
      CREATE INDEX idx_user_roles_role ON user_roles(role_id);
    `);

    // Model registry before assessments: results name the model version that produced them.
    await q.query(`
      CREATE TABLE model_registry (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        pipeline_type VARCHAR(50) NOT NULL,
        model_name VARCHAR(100) NOT NULL,
        version VARCHAR(20) NOT NULL,
        framework VARCHAR(50),
        model_path TEXT,
        config JSONB DEFAULT '{}',
        accuracy DECIMAL(5,4),
        precision_score DECIMAL(5,4),
        recall_score DECIMAL(5,4),
        f1_score DECIMAL(5,4),
        is_active BOOLEAN DEFAULT FALSE,
        deployed_at TIMESTAMPTZ,
        deprecated_at TIMESTAMPTZ,
        created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
        UNIQUE(pipeline_type, version)
      );
      CREATE INDEX idx_model_registry_pipeline ON model_registry(pipeline_type, is_active);
    `);

    // Assessment core (§3.2) and the performance indexes of §4.2/§4.3.
    await q.query(`
      CREATE TABLE assessments (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        session_id VARCHAR(255) UNIQUE NOT NULL,
        user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        organization_id UUID REFERENCES organizations(id) ON DELETE SET NULL,
        pipeline_type VARCHAR(50) NOT NULL,
        pipeline_version VARCHAR(20) NOT NULL DEFAULT '1.0.0',
        risk_score DECIMAL(5,2) CHECK (risk_score >= 0 AND risk_score <= 100),
        risk_level VARCHAR(20),
        confidence DECIMAL(4,3) CHECK (confidence >= 0 AND confidence <= 1),
        status VARCHAR(20) DEFAULT 'pending',
        current_stage VARCHAR(50),
        processing_time_ms INT,
        quality_score DECIMAL(4,3),
        requires_review BOOLEAN DEFAULT FALSE,
        review_reason TEXT,
        results JSONB,
        created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
        completed_at TIMESTAMPTZ,
        updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
        deleted_at TIMESTAMPTZ
      );
      CREATE INDEX idx_assessments_user ON assessments(user_id, created_at DESC) WHERE deleted_at IS NULL;
      CREATE INDEX idx_assessments_pipeline ON assessments(pipeline_type, created_at DESC) WHERE deleted_at IS NULL;
      CREATE INDEX idx_assessments_review ON assessments(requires_review) WHERE requires_review = TRUE AND deleted_at IS NULL;
      CREATE INDEX idx_assessments_org ON assessments(organization_id, created_at DESC) WHERE deleted_at IS NULL;
      CREATE INDEX idx_assessments_user_pipeline_date ON assessments(user_id, pipeline_type, created_at DESC) WHERE deleted_at IS NULL;
      CREATE INDEX idx_assessments_high_risk ON assessments(risk_level, created_at DESC)
        WHERE risk_level IN ('high', 'critical') AND deleted_at IS NULL;
      -- DATE(created_at) on a timestamptz depends on the session time zone, which an index cannot: use the UTC day.
      CREATE INDEX idx_assessments_cohort_analysis
        ON assessments(organization_id, pipeline_type, ((created_at AT TIME ZONE 'UTC')::date), risk_level)
        WHERE status = 'completed' AND deleted_at IS NULL;

      CREATE TABLE pipeline_stages (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        assessment_id UUID NOT NULL REFERENCES assessments(id) ON DELETE CASCADE,
        stage_name VARCHAR(100) NOT NULL,
        stage_index SMALLINT NOT NULL,
        status VARCHAR(20) NOT NULL,
        started_at TIMESTAMPTZ,
        completed_at TIMESTAMPTZ,
        duration_ms INT,
        error_code VARCHAR(50),
        error_message TEXT,
        metadata JSONB DEFAULT '{}'
      );
      CREATE INDEX idx_pipeline_stages_assessment ON pipeline_stages(assessment_id, stage_index);

      -- user_id/organization_id are copied from the assessment by a trigger (see the Triggers migration):
      -- the seed's time-series index used a subquery, which an index expression cannot hold.
      CREATE TABLE biomarker_values (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        assessment_id UUID NOT NULL REFERENCES assessments(id) ON DELETE CASCADE,
        user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        organization_id UUID REFERENCES organizations(id) ON DELETE SET NULL,
        biomarker_name VARCHAR(100) NOT NULL,
        biomarker_category VARCHAR(50),
        value DECIMAL(12,6) NOT NULL,
        unit VARCHAR(20),
        normal_range_min DECIMAL(12,6),
        normal_range_max DECIMAL(12,6),
        status VARCHAR(20),
        confidence DECIMAL(4,3),
        percentile SMALLINT CHECK (percentile BETWEEN 0 AND 100),
        created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
      );
      CREATE INDEX idx_biomarker_values_assessment ON biomarker_values(assessment_id);
      CREATE INDEX idx_biomarker_values_name ON biomarker_values(biomarker_name, created_at DESC);
      CREATE INDEX idx_biomarker_values_category ON biomarker_values(biomarker_category);
      CREATE INDEX idx_biomarker_user_time_series ON biomarker_values(user_id, biomarker_name, created_at DESC);
      CREATE INDEX idx_biomarker_values_org ON biomarker_values(organization_id, created_at DESC);
    `);

    // Modality-specific results (§3.3).
    await q.query(`
      CREATE TABLE retinal_results (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        assessment_id UUID UNIQUE NOT NULL REFERENCES assessments(id) ON DELETE CASCADE,
        dr_grade SMALLINT CHECK (dr_grade BETWEEN 0 AND 4),
        dr_severity VARCHAR(20),
        eye_laterality VARCHAR(10),
        image_quality VARCHAR(20),
        four_two_one_met BOOLEAN DEFAULT FALSE,
        hemorrhages_4_quadrants BOOLEAN,
        venous_beading_2_quadrants BOOLEAN,
        irma_1_quadrant BOOLEAN,
        dme_present BOOLEAN,
        dme_severity VARCHAR(20),
        vessel_density DECIMAL(5,4),
        av_ratio DECIMAL(4,3),
        tortuosity_index DECIMAL(4,3),
        hemorrhage_count INT,
        microaneurysm_count INT,
        exudate_area_percent DECIMAL(5,2),
        heatmap_data JSONB,
        vessel_segmentation JSONB,
        created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
      );
      CREATE INDEX idx_retinal_results_dr_grade ON retinal_results(dr_grade);
      CREATE INDEX idx_retinal_results_eye ON retinal_results(eye_laterality);

      CREATE TABLE speech_results (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        assessment_id UUID UNIQUE NOT NULL REFERENCES assessments(id) ON DELETE CASCADE,
        duration_seconds DECIMAL(6,2),
        sample_rate INT,
        audio_quality_score DECIMAL(4,3),
        jitter DECIMAL(8,6),
        shimmer DECIMAL(8,6),
        hnr DECIMAL(6,2),
        cpps DECIMAL(6,2),
        speech_rate DECIMAL(5,2),
        pause_ratio DECIMAL(4,3),
        voice_tremor DECIMAL(4,3),
        articulation_clarity DECIMAL(4,3),
        prosody_variation DECIMAL(6,2),
        fluency_score DECIMAL(4,3),
        parkinsons_probability DECIMAL(4,3),
        cognitive_decline_probability DECIMAL(4,3),
        created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
      );
      CREATE INDEX idx_speech_results_quality ON speech_results(audio_quality_score);

      CREATE TABLE cardiology_results (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        assessment_id UUID UNIQUE NOT NULL REFERENCES assessments(id) ON DELETE CASCADE,
        rhythm_classification VARCHAR(50),
        heart_rate_bpm SMALLINT CHECK (heart_rate_bpm BETWEEN 20 AND 300),
        regularity VARCHAR(20),
        r_peaks_detected INT,
        rmssd_ms DECIMAL(8,2),
        sdnn_ms DECIMAL(8,2),
        pnn50_percent DECIMAL(5,2),
        pr_interval_ms SMALLINT,
        qrs_duration_ms SMALLINT,
        qt_interval_ms SMALLINT,
        qtc_ms SMALLINT,
        arrhythmia_detected BOOLEAN DEFAULT FALSE,
        arrhythmia_types JSONB DEFAULT '[]',
        signal_quality_score DECIMAL(4,3),
        created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
      );
      CREATE INDEX idx_cardiology_results_rhythm ON cardiology_results(rhythm_classification);
      CREATE INDEX idx_cardiology_results_arrhythmia ON cardiology_results(arrhythmia_detected) WHERE arrhythmia_detected = TRUE;

      CREATE TABLE radiology_results (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        assessment_id UUID UNIQUE NOT NULL REFERENCES assessments(id) ON DELETE CASCADE,
        modality_type VARCHAR(50),
        primary_condition VARCHAR(100),
        primary_probability DECIMAL(5,2),
        primary_severity VARCHAR(20),
        findings JSONB DEFAULT '[]',
        lungs_status VARCHAR(20),
        heart_status VARCHAR(20),
        image_quality VARCHAR(20),
        quality_score DECIMAL(4,3),
        created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
      );
      CREATE INDEX idx_radiology_results_modality ON radiology_results(modality_type);
      CREATE INDEX idx_radiology_results_condition ON radiology_results(primary_condition);

      CREATE TABLE dermatology_results (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        assessment_id UUID UNIQUE NOT NULL REFERENCES assessments(id) ON DELETE CASCADE,
        primary_classification VARCHAR(100),
        melanoma_suspicion VARCHAR(50),
        asymmetry_score DECIMAL(4,3),
        border_score DECIMAL(4,3),
        color_score DECIMAL(4,3),
        diameter_mm DECIMAL(5,2),
        evolution_score DECIMAL(4,3),
        body_location VARCHAR(50),
        fitzpatrick_type SMALLINT,
        image_quality VARCHAR(20),
        lesion_centered BOOLEAN,
        created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
      );
      CREATE INDEX idx_dermatology_results_suspicion ON dermatology_results(melanoma_suspicion);

      CREATE TABLE cognitive_results (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        assessment_id UUID UNIQUE NOT NULL REFERENCES assessments(id) ON DELETE CASCADE,
        overall_risk_score DECIMAL(4,3),
        risk_level VARCHAR(20),
        confidence_score DECIMAL(4,3),
        attention_score DECIMAL(4,3),
        memory_score DECIMAL(4,3),
        executive_function_score DECIMAL(4,3),
        processing_speed_score DECIMAL(4,3),
        tasks_completed INT,
        valid_tasks INT,
        fatigue_index DECIMAL(4,3),
        consistency_score DECIMAL(4,3),
        created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
      );
      CREATE INDEX idx_cognitive_results_risk ON cognitive_results(risk_level);
    `);

    // Conversational AI (§3.4) and files (§3.5).
    await q.query(`
      CREATE TABLE chat_threads (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        title VARCHAR(255),
        context JSONB DEFAULT '{}',
        is_active BOOLEAN DEFAULT TRUE,
        created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
        updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
        last_message_at TIMESTAMPTZ
      );
      CREATE INDEX idx_chat_threads_user ON chat_threads(user_id, last_message_at DESC);
      CREATE INDEX idx_chat_threads_active ON chat_threads(user_id, last_message_at DESC) WHERE is_active = TRUE;

      CREATE TABLE chat_messages (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        thread_id UUID NOT NULL REFERENCES chat_threads(id) ON DELETE CASCADE,
        role VARCHAR(20) NOT NULL,
        content TEXT NOT NULL,
        model_used VARCHAR(50),
        tokens_used INT,
        confidence DECIMAL(4,3),
        sources JSONB DEFAULT '[]',
        created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
      );
      CREATE INDEX idx_chat_messages_thread ON chat_messages(thread_id, created_at ASC);

      CREATE TABLE ai_explanations (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        assessment_id UUID NOT NULL REFERENCES assessments(id) ON DELETE CASCADE,
        explanation_text TEXT NOT NULL,
        voice_generated BOOLEAN DEFAULT FALSE,
        voice_url TEXT,
        voice_duration_ms INT,
        model_used VARCHAR(50),
        tokens_used INT,
        generation_time_ms INT,
        created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
      );
      CREATE INDEX idx_ai_explanations_assessment ON ai_explanations(assessment_id);

      CREATE TABLE uploaded_files (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        assessment_id UUID REFERENCES assessments(id) ON DELETE CASCADE,
        filename VARCHAR(255) NOT NULL,
        original_filename VARCHAR(255),
        content_type VARCHAR(100),
        file_size_bytes BIGINT,
        storage_path TEXT,
        storage_provider VARCHAR(50) DEFAULT 'local',
        processing_status VARCHAR(20) DEFAULT 'pending',
        file_hash VARCHAR(64),
        is_encrypted BOOLEAN DEFAULT FALSE,
        created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
        deleted_at TIMESTAMPTZ
      );
      CREATE INDEX idx_uploaded_files_user ON uploaded_files(user_id, created_at DESC);
      CREATE INDEX idx_uploaded_files_assessment ON uploaded_files(assessment_id);
      CREATE INDEX idx_uploaded_files_hash ON uploaded_files(file_hash);
    `);

    // Analytics (§3.6): per-pipeline counts for all six pipelines, not only the first four.
    await q.query(`
      CREATE TABLE daily_metrics (
        id SERIAL PRIMARY KEY,
        metric_date DATE NOT NULL,
        organization_id UUID REFERENCES organizations(id) ON DELETE CASCADE,
        total_assessments INT DEFAULT 0,
        retinal_count INT DEFAULT 0,
        speech_count INT DEFAULT 0,
        cardiology_count INT DEFAULT 0,
        radiology_count INT DEFAULT 0,
        dermatology_count INT DEFAULT 0,
        cognitive_count INT DEFAULT 0,
        avg_processing_time_ms INT,
        avg_confidence DECIMAL(4,3),
        avg_quality_score DECIMAL(4,3),
        low_risk_count INT DEFAULT 0,
        moderate_risk_count INT DEFAULT 0,
        high_risk_count INT DEFAULT 0,
        critical_risk_count INT DEFAULT 0,
        active_users INT DEFAULT 0,
        new_users INT DEFAULT 0,
        created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
        UNIQUE NULLS NOT DISTINCT (metric_date, organization_id)
      );
      CREATE INDEX idx_daily_metrics_date ON daily_metrics(metric_date DESC);
      CREATE INDEX idx_daily_metrics_org ON daily_metrics(organization_id, metric_date DESC);

      CREATE TABLE user_trends (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        pipeline_type VARCHAR(50) NOT NULL,
        period_start DATE NOT NULL,
        period_end DATE NOT NULL,
        assessment_count INT,
        avg_risk_score DECIMAL(5,2),
        risk_trend VARCHAR(20),
        slope DECIMAL(8,6),
        created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
        UNIQUE(user_id, pipeline_type, period_end)
      );
      CREATE INDEX idx_user_trends_user ON user_trends(user_id, period_end DESC);
    `);

    // Audit & compliance (§3.7). audit_events.user_id has no foreign key: an append-only log must keep
    // the id of a user who is later deleted, and ON DELETE SET NULL would rewrite history.
    await q.query(`
      CREATE TABLE audit_events (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id UUID,
        organization_id UUID,
        actor_type VARCHAR(50) NOT NULL,
        actor_ip INET,
        event_type VARCHAR(100) NOT NULL,
        resource_type VARCHAR(50),
        resource_id UUID,
        action VARCHAR(50) NOT NULL,
        details JSONB DEFAULT '{}',
        hipaa_relevant BOOLEAN DEFAULT FALSE,
        phi_accessed BOOLEAN DEFAULT FALSE,
        session_id VARCHAR(255),
        user_agent TEXT,
        created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
      );
      CREATE INDEX idx_audit_events_user ON audit_events(user_id, created_at DESC);
      CREATE INDEX idx_audit_events_type ON audit_events(event_type, created_at DESC);
      CREATE INDEX idx_audit_events_resource ON audit_events(resource_type, resource_id);
      CREATE INDEX idx_audit_events_hipaa ON audit_events(hipaa_relevant) WHERE hipaa_relevant = TRUE;
      CREATE INDEX idx_audit_events_created ON audit_events(created_at DESC);
      CREATE INDEX idx_audit_events_org ON audit_events(organization_id, created_at DESC);

      -- A partitioned table's primary key must include the partition key.
      CREATE TABLE access_logs (
        id BIGSERIAL,
        user_id UUID,
        endpoint VARCHAR(255) NOT NULL,
        method VARCHAR(10) NOT NULL,
        status_code SMALLINT,
        response_time_ms INT,
        ip_address INET,
        user_agent TEXT,
        created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
        PRIMARY KEY (id, created_at)
      ) PARTITION BY RANGE (created_at);
      CREATE INDEX idx_access_logs_user ON access_logs(user_id, created_at DESC);
      CREATE INDEX idx_access_logs_endpoint ON access_logs(endpoint);
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DROP TABLE IF EXISTS access_logs, audit_events, user_trends, daily_metrics, uploaded_files, ai_explanations,
        chat_messages, chat_threads, cognitive_results, dermatology_results, radiology_results, cardiology_results,
        speech_results, retinal_results, biomarker_values, pipeline_stages, assessments, model_registry, user_roles,
        roles, user_profiles, users, organizations CASCADE;
    `);
  }
}
