import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** A key the gateway signs its access tokens with; the current one has retired_at null. */
@Entity({ name: 'signing_keys' })
// A partial unique index on the constant (true): at most one current key. TypeORM cannot express it.
@Index('signing_keys_one_current', { synchronize: false })
export class SigningKey {
  @PrimaryColumn({ name: 'kid', type: 'varchar', length: 64, primaryKeyConstraintName: 'signing_keys_pkey' })
  kid: string;

  @Column({ name: 'alg', type: 'varchar', length: 16 })
  alg: string;

  @Column({ name: 'private_jwk', type: 'jsonb' })
  privateJwk: Record<string, unknown>;

  @Column({ name: 'public_jwk', type: 'jsonb' })
  publicJwk: Record<string, unknown>;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt: Date;

  @Column({ name: 'retired_at', type: 'timestamptz', nullable: true })
  retiredAt: Date | null;
}
