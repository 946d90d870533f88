import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { Organization } from './organization';

export type ClientAuthMethod = 'private_key_jwt' | 'client_secret_basic';

/** A backend-services client registered with the gateway's own authorization server (not a seed table). */
@Entity({ name: 'oauth_clients' })
@Check('oauth_clients_auth_method_check', `"auth_method" IN ('private_key_jwt', 'client_secret_basic')`)
@Check(
  'oauth_clients_credentials',
  `("auth_method" = 'private_key_jwt' AND "secret_hash" IS NULL AND ("jwks" IS NOT NULL) <> ("jwks_url" IS NOT NULL))
   OR ("auth_method" = 'client_secret_basic' AND "secret_hash" IS NOT NULL AND "jwks" IS NULL AND "jwks_url" IS NULL)`,
)
@Index('idx_oauth_clients_org', ['organizationId'])
export class OAuthClient {
  @PrimaryColumn({ name: 'client_id', type: 'varchar', length: 255, primaryKeyConstraintName: 'oauth_clients_pkey' })
  clientId: string;

  @Column({ name: 'auth_method', type: 'varchar', length: 32 })
  authMethod: ClientAuthMethod;

  /** Registered public keys (a JWK Set), when registered inline. */
  @Column({ name: 'jwks', type: 'jsonb', nullable: true })
  jwks: { keys: Record<string, unknown>[] } | null;

  /** Where the client publishes its JWK Set; also the only `jku` its assertions may name. */
  @Column({ name: 'jwks_url', type: 'text', nullable: true })
  jwksUrl: string | null;

  /** scrypt hash of the client secret (the secret itself is shown once, at registration). */
  @Column({ name: 'secret_hash', type: 'text', nullable: true })
  secretHash: string | null;

  /** The most this client may be granted, as SMART scopes separated by spaces. */
  @Column({ name: 'allowed_scope', type: 'text' })
  allowedScope: string;

  /** Bounds everything the client's tokens can see; null means every organization. */
  @Column({ name: 'organization_id', type: 'uuid', nullable: true })
  organizationId: string | null;

  @Column({ name: 'description', type: 'text', nullable: true })
  description: string | null;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt: Date;

  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt: Date;

  @ManyToOne(() => Organization, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'organization_id', foreignKeyConstraintName: 'oauth_clients_organization_id_fkey' })
  organization?: Organization;
}
