import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { ChatThread } from './chat-thread';
import { decimal } from './transformers';

/** One message of a chat thread, from the user or the assistant. */
@Entity({ name: 'chat_messages' })
@Index('idx_chat_messages_thread', ['threadId', 'createdAt'])
export class ChatMessage {
  @PrimaryGeneratedColumn('uuid', { name: 'id', primaryKeyConstraintName: 'chat_messages_pkey' })
  id: string;

  @Column({ name: 'thread_id', type: 'uuid' })
  threadId: string;

  /** user | assistant | system */
  @Column({ name: 'role', type: 'varchar', length: 20 })
  role: string;

  @Column({ name: 'content', type: 'text' })
  content: string;

  @Column({ name: 'model_used', type: 'varchar', length: 50, nullable: true })
  modelUsed: string | null;

  @Column({ name: 'tokens_used', type: 'int', nullable: true })
  tokensUsed: number | null;

  @Column({ name: 'confidence', type: 'decimal', precision: 4, scale: 3, nullable: true, transformer: decimal })
  confidence: number | null;

  /** What an assistant answer was grounded on. */
  @Column({ name: 'sources', type: 'jsonb', nullable: true, default: [] })
  sources: unknown[] | null;

  @Column({ name: 'created_at', type: 'timestamptz', nullable: false, default: () => 'now()' })
  createdAt: Date;

  @ManyToOne(() => ChatThread, (thread) => thread.messages, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'thread_id', foreignKeyConstraintName: 'chat_messages_thread_id_fkey' })
  thread?: ChatThread;
}
