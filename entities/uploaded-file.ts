import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { Assessment } from './assessment';
import { User } from './user';
import { bigint } from './transformers';

/** Metadata of an uploaded input (fundus image, audio, ECG trace ...); the bytes live in storage_path. */
@Entity({ name: 'uploaded_files' })
@Index('idx_uploaded_files_user', ['userId', 'createdAt'])
@Index('idx_uploaded_files_assessment', ['assessmentId'])
@Index('idx_uploaded_files_hash', ['fileHash'])
export class UploadedFile {
  @PrimaryGeneratedColumn('uuid', { name: 'id', primaryKeyConstraintName: 'uploaded_files_pkey' })
  id: string;

  @Column({ name: 'user_id', type: 'uuid' })
  userId: string;

  /** Null until the upload is attached to an assessment. */
  @Column({ name: 'assessment_id', type: 'uuid', nullable: true })
  assessmentId: string | null;

  @Column({ name: 'filename', type: 'varchar', length: 255 })
  filename: string;

  @Column({ name: 'original_filename', type: 'varchar', length: 255, nullable: true })
  originalFilename: string | null;

  @Column({ name: 'content_type', type: 'varchar', length: 100, nullable: true })
  contentType: string | null;

  @Column({ name: 'file_size_bytes', type: 'bigint', nullable: true, transformer: bigint })
  fileSizeBytes: number | null;

  @Column({ name: 'storage_path', type: 'text', nullable: true })
  storagePath: string | null;

  @Column({ name: 'storage_provider', type: 'varchar', length: 50, nullable: true, default: 'local' })
  storageProvider: string | null;

  @Column({ name: 'processing_status', type: 'varchar', length: 20, nullable: true, default: 'pending' })
  processingStatus: string | null;

  /** Hex SHA-256 of the content (64 characters), indexed to find duplicate uploads. */
  @Column({ name: 'file_hash', type: 'varchar', length: 64, nullable: true })
  fileHash: string | null;

  @Column({ name: 'is_encrypted', type: 'boolean', nullable: true, default: false })
  isEncrypted: boolean | null;

  @Column({ name: 'created_at', type: 'timestamptz', nullable: false, default: () => 'now()' })
  createdAt: Date;

  // A plain column, not @DeleteDateColumn: soft-deleted rows must stay loadable.
  @Column({ name: 'deleted_at', type: 'timestamptz', nullable: true })
  deletedAt: Date | null;

  @ManyToOne(() => User, (user) => user.uploadedFiles, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'uploaded_files_user_id_fkey' })
  user?: User;

  @ManyToOne(() => Assessment, (assessment) => assessment.uploadedFiles, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'assessment_id', foreignKeyConstraintName: 'uploaded_files_assessment_id_fkey' })
  assessment?: Assessment | null;
}
