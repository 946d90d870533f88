import { Column, Entity, Index, JoinColumn, ManyToOne, OneToMany, PrimaryGeneratedColumn } from 'typeorm';
import { ChatMessage } from './chat-message';
import { User } from './user';

/** A conversation between a user and the MediLens assistant. */
@Entity({ name: 'chat_threads' })
@Index('idx_chat_threads_user', ['userId', 'lastMessageAt'])
@Index('idx_chat_threads_active', ['userId', 'lastMessageAt'], { where: 'is_active = TRUE' })
export class ChatThread {
  @PrimaryGeneratedColumn('uuid', { name: 'id', primaryKeyConstraintName: 'chat_threads_pkey' })
  id: string;

  @Column({ name: 'user_id', type: 'uuid' })
  userId: string;

  @Column({ name: 'title', type: 'varchar', length: 255, nullable: true })
  title: string | null;

  /** What the user was looking at when the thread started (page, assessment ...). */
  @Column({ name: 'context', type: 'jsonb', nullable: true, default: {} })
  context: Record<string, unknown> | null;

  @Column({ name: 'is_active', type: 'boolean', nullable: true, default: true })
  isActive: boolean | null;

  @Column({ name: 'created_at', type: 'timestamptz', nullable: false, default: () => 'now()' })
  createdAt: Date;

  // Kept current by the touch_updated_at trigger, whoever writes the row.
  @Column({ name: 'updated_at', type: 'timestamptz', nullable: false, default: () => 'now()' })
  updatedAt: Date;

  @Column({ name: 'last_message_at', type: 'timestamptz', nullable: true })
  lastMessageAt: Date | null;

  @ManyToOne(() => User, (user) => user.chatThreads, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'chat_threads_user_id_fkey' })
  user?: User;

  @OneToMany(() => ChatMessage, (message) => message.thread)
  messages?: ChatMessage[];
}
