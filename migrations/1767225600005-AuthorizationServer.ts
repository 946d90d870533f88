import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The gateway's own SMART authorization server: registered backend clients, the key it signs access
 * tokens with, and the assertion ids it has already accepted.
 *
 * None of these tables is granted to medilens_app: requests never read them; the token endpoint and the
 * CLI work as the owner role. A client's organization bounds every token it gets (ON DELETE CASCADE:
 * a client outliving its tenant would otherwise widen to every organization).
 */
export class AuthorizationServer1767225600005 implements MigrationInterface {
  name = 'AuthorizationServer1767225600005';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE oauth_clients (
        client_id VARCHAR(255) PRIMARY KEY,
        auth_method VARCHAR(32) NOT NULL CONSTRAINT oauth_clients_auth_method_check CHECK (auth_method IN ('private_key_jwt', 'client_secret_basic')),
        jwks JSONB,
        jwks_url TEXT,
        secret_hash TEXT,
        allowed_scope TEXT NOT NULL,
        organization_id UUID REFERENCES organizations(id) ON DELETE CASCADE,
        description TEXT,
        created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
        updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
        CONSTRAINT oauth_clients_credentials CHECK (
          (auth_method = 'private_key_jwt' AND secret_hash IS NULL AND (jwks IS NOT NULL) <> (jwks_url IS NOT NULL))
          OR (auth_method = 'client_secret_basic' AND secret_hash IS NOT NULL AND jwks IS NULL AND jwks_url IS NULL))
      );
      CREATE INDEX idx_oauth_clients_org ON oauth_clients(organization_id);
      CREATE TRIGGER oauth_clients_touch BEFORE UPDATE ON oauth_clients FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

      CREATE TABLE signing_keys (
        kid VARCHAR(64) PRIMARY KEY,
        alg VARCHAR(16) NOT NULL,
        private_jwk JSONB NOT NULL,
        public_jwk JSONB NOT NULL,
        created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
        retired_at TIMESTAMPTZ
      );
      -- One current key at a time, even when several gateways start on an empty database together.
      CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys ((true)) WHERE retired_at IS NULL;

      CREATE TABLE client_assertion_jtis (
        client_id VARCHAR(255) NOT NULL REFERENCES oauth_clients(client_id) ON DELETE CASCADE,
        jti VARCHAR(255) NOT NULL,
        expires_at TIMESTAMPTZ NOT NULL,
        CONSTRAINT client_assertion_jtis_pkey PRIMARY KEY (client_id, jti)
      );
      CREATE INDEX idx_client_assertion_jtis_expires ON client_assertion_jtis(expires_at);
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE client_assertion_jtis; DROP TABLE signing_keys; DROP TABLE oauth_clients;`);
  }
}
