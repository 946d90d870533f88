import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { OAuthClient } from './oauth-client';

/** A client assertion id already accepted; kept until the assertion expires, so a replay is refused. */
@Entity({ name: 'client_assertion_jtis' })
@Index('idx_client_assertion_jtis_expires', ['expiresAt'])
export class ClientAssertionJti {
  @PrimaryColumn({ name: 'client_id', type: 'varchar', length: 255, primaryKeyConstraintName: 'client_assertion_jtis_pkey' })
  clientId: string;

  @PrimaryColumn({ name: 'jti', type: 'varchar', length: 255, primaryKeyConstraintName: 'client_assertion_jtis_pkey' })
  jti: string;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt: Date;

  @ManyToOne(() => OAuthClient, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'client_id', foreignKeyConstraintName: 'client_assertion_jtis_client_id_fkey' })
  client?: OAuthClient;
}
