import { AccessLog } from './access-log';
import { AiExplanation } from './ai-explanation';
import { Assessment } from './assessment';
import { AuditEvent } from './audit-event';
import { BiomarkerValue } from './biomarker-value';
import { CardiologyResult } from './cardiology-result';
import { ChatMessage } from './chat-message';
import { ChatThread } from './chat-thread';
import { CognitiveResult } from './cognitive-result';
import { DailyMetric } from './daily-metric';
import { DermatologyResult } from './dermatology-result';
import { ModelRegistryEntry } from './model-registry';
import { Organization } from './organization';
import { PipelineStage } from './pipeline-stage';
import { RadiologyResult } from './radiology-result';
import { RetinalResult } from './retinal-result';
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
};

/** Every MediLens table, in the migrations' order; the DataSource registers exactly these. */
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
  AccessLog,
];
