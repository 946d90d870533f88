import { AccessLog } from './access-log';
import { AiExplanation } from './ai-explanation';
import { Assessment } from './assessment';
import { AuditChain } from './audit-chain';
import { AuditEvent } from './audit-event';
import { AuditEventPatient } from './audit-event-patient';
import { BiomarkerValue } from './biomarker-value';
import { CardiologyResult } from './cardiology-result';
import { ChatMessage } from './chat-message';
import { ClientAssertionJti } from './client-assertion-jti';
import { ChatThread } from './chat-thread';
import { CognitiveResult } from './cognitive-result';
import { DailyMetric } from './daily-metric';
import { DermatologyResult } from './dermatology-result';
import { ModelRegistryEntry } from './model-registry';
import { OAuthClient } from './oauth-client';
import { PatientIdentifier } from './patient-identifier';
import { ResourceHistory } from './resource-history';
import { Organization } from './organization';
import { PipelineStage } from './pipeline-stage';
import { RadiologyResult } from './radiology-result';
import { RetinalResult } from './retinal-result';
import { SigningKey } from './signing-key';
import { Role } from './role';
import { SpeechResult } from './speech-result';
import { UploadedFile } from './uploaded-file';
import { User } from './user';
import { UserProfile } from './user-profile';
import { UserRole } from './user-role';
import { UserTrend } from './user-trend';

export {
  AccessLog,
  AiExplanation,
  Assessment,
  AuditChain,
  AuditEvent,
  AuditEventPatient,
  BiomarkerValue,
  CardiologyResult,
  ChatMessage,
  ChatThread,
  ClientAssertionJti,
  CognitiveResult,
  DailyMetric,
  DermatologyResult,
  ModelRegistryEntry,
  OAuthClient,
  Organization,
  PatientIdentifier,
  PipelineStage,
  RadiologyResult,
  ResourceHistory,
  RetinalResult,
  Role,
  SigningKey,
  SpeechResult,
  UploadedFile,
  User,
  UserProfile,
  UserRole,
  UserTrend,
};

/** Every table (the MediLens schema, then the gateway's own), in the migrations' order; the DataSource registers exactly these. */
export const entities = [
  Organization,
  User,
  UserProfile,
  Role,
  UserRole,
  ModelRegistryEntry,
  Assessment,
  PipelineStage,
  BiomarkerValue,
  RetinalResult,
  SpeechResult,
  CardiologyResult,
  RadiologyResult,
  DermatologyResult,
  CognitiveResult,
  ChatThread,
  ChatMessage,
  AiExplanation,
  UploadedFile,
  DailyMetric,
  UserTrend,
  AuditEvent,
  AuditEventPatient,
  AuditChain,
  AccessLog,
  OAuthClient,
  SigningKey,
  ClientAssertionJti,
  PatientIdentifier,
  ResourceHistory,
];
