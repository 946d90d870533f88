import crypto from 'node:crypto';
import type { Express } from 'express';
import type { Bundle, Observation, OperationOutcome, Patient } from 'fhir/r4';
import { SignJWT } from 'jose';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { medilensSystems } from '../../mappings/codes';
import { seedReferenceData } from '../../src/db/seed';
import { backendToken, clientKey, ExternalIdp, GATEWAY, keyClient, testApp } from '../support/auth';
import { openTestDatabase, testBackend, type TestDatabase } from '../support/database';
import { insertAssessment, insertBiomarker, insertOrganization } from '../support/fixtures';

/**
 * User tokens of an external identity provider (a real local HTTP server publishing a JWK Set): who
 * the token's sub is in MediLens decides what they reach, and every kind of bad token is a 401 with a
 * WWW-Authenticate challenge.
 */

type RoleName = 'admin' | 'clinician' | 'researcher' | 'patient';

interface TestUser {
  id: string;
  /** users.clerk_user_id: the sub the identity provider puts in tokens. */
  sub: string;
}

interface TestPatient extends TestUser {
  observationId: string;
}

/** A user with a known clerk_user_id and the given roles (granted in the user's own organization). */
async function createUser(
  ds: DataSource,
  organizationId: string | null,
  roles: RoleName[],
  opts: { firstName?: string; active?: boolean } = {},
): Promise<TestUser> {
  const sub = `user_${crypto.randomUUID()}`;
  const [row] = await ds.query(
    `INSERT INTO users (clerk_user_id, email, first_name, last_name, organization_id, is_active)
     VALUES ($1, $2, $3, 'Test', $4, $5) RETURNING id`,
    [sub, `${crypto.randomUUID()}@example.org`, opts.firstName ?? 'Test', organizationId, opts.active ?? true],
  );
  for (const role of roles) {
    const [{ id: roleId }] = await ds.query(`SELECT id FROM roles WHERE name = $1`, [role]);
    await ds.query(`INSERT INTO user_roles (user_id, role_id, organization_id) VALUES ($1, $2, $3)`, [row.id, roleId, organizationId]);
  }
  return { id: row.id, sub };
}

/** A patient-role user with one assessment and one biomarker value (their Observation). */
async function createPatient(ds: DataSource, organizationId: string, firstName: string): Promise<TestPatient> {
  const user = await createUser(ds, organizationId, ['patient'], { firstName });
  const assessmentId = await insertAssessment(ds, user.id, organizationId);
  const observationId = await insertBiomarker(ds, assessmentId);
  return { ...user, observationId };
}

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

function get(app: Express, path: string, token?: string) {
  const req = request(app).get(path);
  return token === undefined ? req : req.set(bearer(token));
}

function entryIds(bundle: Bundle): string[] {
  return (bundle.entry ?? []).map((e) => e.resource!.id!).sort();
}

function diagnostics(body: unknown): string {
  const outcome = body as OperationOutcome;
  expect(outcome.resourceType).toBe('OperationOutcome');
  expect(outcome.issue).toHaveLength(1);
  return outcome.issue[0].diagnostics ?? '';
}

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

describe(`external identity provider user tokens (${testBackend()})`, () => {
  let db: TestDatabase;
  let idp: ExternalIdp;
  let otherIdp: ExternalIdp;
  let app: Express;
  let orgA: string;
  let orgB: string;
  let pA1: TestPatient;
  let pA2: TestPatient;
  let pB1: TestPatient;
  let cA: TestUser;
  let rA: TestUser;
  let admin: TestUser;

  /** A user token from the configured provider for `user`, with extra claims. */
  const tokenFor = (user: TestUser, scope: string, claims: Record<string, unknown> = {}) => idp.token({ sub: user.sub, scope, ...claims });

  beforeAll(async () => {
    db = await openTestDatabase();
    const ds = db.dataSource;
    await seedReferenceData(ds);
    idp = await ExternalIdp.start();
    otherIdp = await ExternalIdp.start();
    app = testApp(db, idp.env());

    orgA = await insertOrganization(ds, 'Clinic A');
    orgB = await insertOrganization(ds, 'Clinic B');
    pA1 = await createPatient(ds, orgA, 'Alice');
    pA2 = await createPatient(ds, orgA, 'Anna');
    pB1 = await createPatient(ds, orgB, 'Bob');
    cA = await createUser(ds, orgA, ['clinician'], { firstName: 'Clara' });
    rA = await createUser(ds, orgA, ['researcher'], { firstName: 'Rita' });
    admin = await createUser(ds, null, ['admin'], { firstName: 'Adam' });
  });

  afterAll(async () => {
    await idp?.stop();
    await otherIdp?.stop();
    await db?.close();
  });

  describe('a patient user', () => {
    it.each(['patient/*.read', 'patient/Patient.rs patient/Observation.rs'])('reads their own Patient and Observation with %s', async (scope) => {
      const token = await tokenFor(pA1, scope);
      const patient = await get(app, `/fhir/Patient/${pA1.id}`, token).expect(200);
      expect((patient.body as Patient).resourceType).toBe('Patient');
      expect((patient.body as Patient).id).toBe(pA1.id);
      const observation = await get(app, `/fhir/Observation/${pA1.observationId}`, token).expect(200);
      expect((observation.body as Observation).id).toBe(pA1.observationId);
      expect((observation.body as Observation).subject?.reference).toBe(`Patient/${pA1.id}`);
    });

    it("gets 404 for another patient's Patient and Observation, in or outside their organization", async () => {
      const token = await tokenFor(pA1, 'patient/*.read');
      for (const other of [pA2, pB1]) {
        const res = await get(app, `/fhir/Patient/${other.id}`, token).expect(404);
        expect(diagnostics(res.body)).toContain(other.id);
        await get(app, `/fhir/Observation/${other.observationId}`, token).expect(404);
      }
    });

    it('finds only themselves when searching, by any parameter', async () => {
      const token = await tokenFor(pA1, 'patient/*.read');
      expect(entryIds((await get(app, '/fhir/Patient', token).expect(200)).body)).toEqual([pA1.id]);
      expect(entryIds((await get(app, `/fhir/Patient?_id=${pA2.id}`, token).expect(200)).body)).toEqual([]);
      expect(entryIds((await get(app, `/fhir/Patient?_id=${pA1.id},${pA2.id},${pB1.id}`, token).expect(200)).body)).toEqual([pA1.id]);
      const system = medilensSystems({ canonicalBase: 'https://fhir.medilens.ai' }).userId;
      const byIdentifier = await get(app, `/fhir/Patient?identifier=${encodeURIComponent(`${system}|${pB1.id}`)}`, token).expect(200);
      expect(entryIds(byIdentifier.body)).toEqual([]);
    });

    it('stays within their own compartment even with user/ scopes', async () => {
      const token = await tokenFor(pA1, 'user/*.read');
      expect((await get(app, `/fhir/Patient/${pA1.id}`, token).expect(200)).body.id).toBe(pA1.id);
      await get(app, `/fhir/Patient/${pA2.id}`, token).expect(404);
      await get(app, `/fhir/Patient/${pB1.id}`, token).expect(404);
      await get(app, `/fhir/Observation/${pA2.observationId}`, token).expect(404);
      expect(entryIds((await get(app, '/fhir/Patient', token).expect(200)).body)).toEqual([pA1.id]);
    });

    it('accepts a patient claim naming themselves, but not another patient', async () => {
      const own = await tokenFor(pA1, 'patient/*.read', { patient: pA1.id });
      expect((await get(app, `/fhir/Patient/${pA1.id}`, own).expect(200)).body.id).toBe(pA1.id);

      const other = await tokenFor(pA1, 'patient/*.read', { patient: pA2.id });
      const res = await get(app, `/fhir/Patient/${pA2.id}`, other).expect(401);
      expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
      expect(res.headers['www-authenticate']).toContain('cannot name another patient');
      expect(diagnostics(res.body)).toBe('a patient token cannot name another patient');
    });

    it('accepts fhirUser naming themselves, and rejects one naming someone else', async () => {
      for (const fhirUser of [`Patient/${pA1.id}`, `${GATEWAY}/fhir/Patient/${pA1.id}`]) {
        const token = await tokenFor(pA1, 'patient/*.read', { fhirUser });
        expect((await get(app, `/fhir/Patient/${pA1.id}`, token).expect(200)).body.id).toBe(pA1.id);
      }
      for (const fhirUser of [`Patient/${pA2.id}`, `Practitioner/${cA.id}`]) {
        const token = await tokenFor(pA1, 'patient/*.read', { fhirUser });
        const res = await get(app, `/fhir/Patient/${pA1.id}`, token).expect(401);
        expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
        expect(diagnostics(res.body)).toBe('fhirUser does not name the signed-in user');
      }
    });

    it('counts a user with no role at all as a patient', async () => {
      // In an organization of their own, so that A's patients stay pA1 and pA2 for the other tests.
      const orgN = await insertOrganization(db.dataSource, 'Clinic N');
      const noRole = await createUser(db.dataSource, orgN, [], { firstName: 'Nora' });
      const neighbour = await createPatient(db.dataSource, orgN, 'Ned');
      const token = await tokenFor(noRole, 'user/*.read');
      expect((await get(app, `/fhir/Patient/${noRole.id}`, token).expect(200)).body.id).toBe(noRole.id);
      await get(app, `/fhir/Patient/${neighbour.id}`, token).expect(404);
      expect(entryIds((await get(app, '/fhir/Patient', token).expect(200)).body)).toEqual([noRole.id]);
    });
  });

  describe('a clinician', () => {
    it("with user/*.read reads their organization's patients and nobody else's", async () => {
      const token = await tokenFor(cA, 'user/*.read');
      expect((await get(app, `/fhir/Patient/${pA1.id}`, token).expect(200)).body.id).toBe(pA1.id);
      expect((await get(app, `/fhir/Patient/${pA2.id}`, token).expect(200)).body.id).toBe(pA2.id);
      const res = await get(app, `/fhir/Patient/${pB1.id}`, token).expect(404);
      expect(diagnostics(res.body)).toBe(`Patient/${pB1.id} is not known`);

      expect((await get(app, `/fhir/Observation/${pA2.observationId}`, token).expect(200)).body.id).toBe(pA2.observationId);
      await get(app, `/fhir/Observation/${pB1.observationId}`, token).expect(404);
    });

    it("searching finds exactly the organization's patients (staff are not Patients)", async () => {
      const token = await tokenFor(cA, 'user/*.read');
      const all = await get(app, '/fhir/Patient', token).expect(200);
      expect(entryIds(all.body)).toEqual([pA1.id, pA2.id].sort());
      expect(entryIds((await get(app, `/fhir/Patient?_id=${pB1.id}`, token).expect(200)).body)).toEqual([]);
      expect(entryIds((await get(app, `/fhir/Patient?_id=${cA.id}`, token).expect(200)).body)).toEqual([]);
      const system = medilensSystems({ canonicalBase: 'https://fhir.medilens.ai' }).userId;
      const byIdentifier = await get(app, `/fhir/Patient?identifier=${encodeURIComponent(`${system}|${pA2.id}`)}`, token).expect(200);
      expect(entryIds(byIdentifier.body)).toEqual([pA2.id]);
    });

    it('with patient/*.read and a patient claim is confined to that patient', async () => {
      const token = await tokenFor(cA, 'patient/*.read', { patient: pA2.id });
      expect((await get(app, `/fhir/Patient/${pA2.id}`, token).expect(200)).body.id).toBe(pA2.id);
      expect((await get(app, `/fhir/Observation/${pA2.observationId}`, token).expect(200)).body.id).toBe(pA2.observationId);
      await get(app, `/fhir/Patient/${pA1.id}`, token).expect(404);
      await get(app, `/fhir/Observation/${pA1.observationId}`, token).expect(404);
      expect(entryIds((await get(app, '/fhir/Patient', token).expect(200)).body)).toEqual([pA2.id]);
    });

    it('with patient/*.read and a patient claim outside the organization reaches nothing', async () => {
      const token = await tokenFor(cA, 'patient/*.read', { patient: pB1.id });
      await get(app, `/fhir/Patient/${pB1.id}`, token).expect(404);
      expect(entryIds((await get(app, '/fhir/Patient', token).expect(200)).body)).toEqual([]);
    });

    it('with patient/*.read but no patient claim is refused', async () => {
      const token = await tokenFor(cA, 'patient/*.read');
      const res = await get(app, `/fhir/Patient/${pA1.id}`, token).expect(403);
      expect(diagnostics(res.body)).toContain('user/Patient.r');
    });

    it('with only user/Observation.rs gets a 403 naming the scope a Patient read needs', async () => {
      const token = await tokenFor(cA, 'user/Observation.rs');
      const res = await get(app, `/fhir/Patient/${pA1.id}`, token).expect(403);
      expect(res.body.issue[0].code).toBe('forbidden');
      expect(diagnostics(res.body)).toContain('user/Patient.r');
      expect(res.headers['www-authenticate']).toBe('Bearer realm="MediLens FHIR Gateway", error="insufficient_scope", scope="user/Patient.r"');
      expect((await get(app, `/fhir/Observation/${pA1.observationId}`, token).expect(200)).body.id).toBe(pA1.observationId);
    });

    it('takes the scope from scp (array) as well as scope', async () => {
      const token = await idp.token({ sub: cA.sub, scp: ['user/Patient.rs'] });
      expect((await get(app, `/fhir/Patient/${pA1.id}`, token).expect(200)).body.id).toBe(pA1.id);
    });

    it('who is also a patient signs in as clinician (role precedence)', async () => {
      const orgC = await insertOrganization(db.dataSource, 'Clinic C');
      const both = await createUser(db.dataSource, orgC, ['patient', 'clinician']);
      const pC1 = await createPatient(db.dataSource, orgC, 'Carl');
      const token = await tokenFor(both, 'user/*.read');
      expect((await get(app, `/fhir/Patient/${pC1.id}`, token).expect(200)).body.id).toBe(pC1.id);
      await get(app, `/fhir/Patient/${pA1.id}`, token).expect(404);
    });
  });

  describe('a researcher', () => {
    it('gets no identifiable data, but reads Observations of their organization', async () => {
      const token = await tokenFor(rA, 'user/*.read');
      const read = await get(app, `/fhir/Patient/${pA1.id}`, token).expect(403);
      expect(diagnostics(read.body)).toContain('identifiable');
      const search = await get(app, '/fhir/Patient', token).expect(403);
      expect(diagnostics(search.body)).toContain('identifiable');

      const obs = await get(app, `/fhir/Observation/${pA1.observationId}`, token).expect(200);
      expect(obs.body.id).toBe(pA1.observationId);
      await get(app, `/fhir/Observation/${pB1.observationId}`, token).expect(404);
    });
  });

  describe('an admin without an organization', () => {
    it('reaches every organization', async () => {
      const token = await tokenFor(admin, 'user/*.read');
      expect((await get(app, `/fhir/Patient/${pA1.id}`, token).expect(200)).body.id).toBe(pA1.id);
      expect((await get(app, `/fhir/Patient/${pB1.id}`, token).expect(200)).body.id).toBe(pB1.id);
      expect((await get(app, `/fhir/Observation/${pB1.observationId}`, token).expect(200)).body.id).toBe(pB1.observationId);
      const ids = entryIds((await get(app, '/fhir/Patient?_count=1000', token).expect(200)).body);
      expect(ids).toEqual(expect.arrayContaining([pA1.id, pA2.id, pB1.id]));
      expect(ids).not.toContain(cA.id);
      expect(ids).not.toContain(admin.id);
    });
  });

  describe('system/ scopes in a user token', () => {
    it.each([
      ['clinician', () => cA],
      ['admin', () => admin],
      ['patient', () => pA1 as TestUser],
    ])('grant a %s nothing', async (_role, user) => {
      const token = await tokenFor(user(), 'system/*.read system/Patient.rs');
      const res = await get(app, `/fhir/Patient/${pA1.id}`, token).expect(403);
      expect(diagnostics(res.body)).toContain('user/Patient.r');
      expect(diagnostics(res.body)).not.toContain('system/');
      await get(app, `/fhir/Observation/${pA1.observationId}`, token).expect(403);
    });
  });

  describe('invalid tokens', () => {
    /** Asserts a 401 with an invalid_token challenge whose error_description matches, and an OperationOutcome. */
    async function expectInvalidToken(res: request.Response, description: RegExp) {
      expect(res.status).toBe(401);
      const challenge = res.headers['www-authenticate'];
      expect(challenge).toMatch(/^Bearer realm="[^"]+"/);
      expect(challenge).toContain('error="invalid_token"');
      const described = /error_description="([^"]*)"/.exec(challenge);
      expect(described).not.toBeNull();
      expect(described![1]).toMatch(description);
      expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
      expect(res.body.issue[0].code).toBe('security');
      expect(diagnostics(res.body)).toBe(described![1]);
    }

    const patientPath = () => `/fhir/Patient/${pA1.id}`;
    const read = (token: string) => get(app, patientPath(), token);

    it('missing token: a bare challenge without an error attribute', async () => {
      const res = await get(app, patientPath()).expect(401);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="[^"]+"$/);
      expect(res.headers['www-authenticate']).not.toContain('error=');
      expect(res.body.issue[0].code).toBe('login');
      expect(diagnostics(res.body)).toMatch(/bearer access token is required/i);
    });

    it('malformed token', async () => {
      await expectInvalidToken(await read('abc'), /not a signed JWT/);
      await expectInvalidToken(await read('a.b.c'), /not a signed JWT|malformed/);
    });

    it('an Authorization header that is not "Bearer <token>"', async () => {
      for (const header of ['Bearer', 'Bearer two tokens']) {
        const res = await request(app).get(patientPath()).set('Authorization', header);
        await expectInvalidToken(res, /malformed/);
      }
    });

    it('a token in the URL, alone or next to a header (RFC 6750 §2.3: not accepted)', async () => {
      const token = await tokenFor(pA1, 'patient/*.read');
      await expectInvalidToken(await request(app).get(`${patientPath()}?access_token=${token}`).set(bearer(token)), /not accepted in the URL/);
      await expectInvalidToken(await request(app).get(`${patientPath()}?access_token=${token}`), /not accepted in the URL/);
    });

    it('a scheme other than Bearer', async () => {
      const res = await request(app).get(patientPath()).set('Authorization', 'Basic dXNlcjpwYXNz');
      await expectInvalidToken(res, /not a Bearer token/);
    });

    it('expired', async () => {
      await expectInvalidToken(await read(await idp.token({ sub: pA1.sub, scope: 'patient/*.read' }, { expiresIn: -120 })), /expired/);
    });

    it('not yet valid', async () => {
      await expectInvalidToken(await read(await idp.token({ sub: pA1.sub, scope: 'patient/*.read' }, { notBefore: 600 })), /not yet valid/);
    });

    it('without sub', async () => {
      await expectInvalidToken(await read(await idp.token({ scope: 'patient/*.read' })), /sub claim is missing/);
    });

    it('without exp', async () => {
      await expectInvalidToken(await read(await tokenFor(pA1, 'patient/*.read', { exp: undefined })), /exp claim is missing/);
    });

    it('meant for another audience', async () => {
      const token = await tokenFor(pA1, 'patient/*.read', { aud: 'https://other.example/fhir' });
      await expectInvalidToken(await read(token), new RegExp(`not meant for this server.*${GATEWAY}/fhir`));
    });

    it('from an issuer the gateway does not trust', async () => {
      await expectInvalidToken(await read(await otherIdp.token({ sub: pA1.sub, scope: 'patient/*.read' })), /issuer is not trusted/);
    });

    it('unsigned (alg none)', async () => {
      const now = Math.floor(Date.now() / 1000);
      const payload = { iss: idp.issuer, aud: `${GATEWAY}/fhir`, sub: pA1.sub, scope: 'patient/*.read', iat: now, exp: now + 300 };
      const token = `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(payload)}.`;
      await expectInvalidToken(await read(token), /unsigned/);
    });

    it('with a tampered payload', async () => {
      const good = await tokenFor(pA1, 'patient/*.read');
      const [header, payload, signature] = good.split('.');
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
      const tampered = `${header}.${base64url({ ...claims, sub: cA.sub, scope: 'user/*.read' })}.${signature}`;
      await expectInvalidToken(await read(tampered), /signature does not verify/);
      // The untouched token is fine: it is the change that fails.
      await read(good).expect(200);
    });

    it('signed by a key the provider does not publish', async () => {
      const stranger = await clientKey('ES384', 'not-published');
      const token = await idp.token({ sub: pA1.sub, scope: 'patient/*.read' }, { key: stranger });
      await expectInvalidToken(await read(token), /unknown key/);
    });

    it('signed with a symmetric key (HS256)', async () => {
      const now = Math.floor(Date.now() / 1000);
      const token = await new SignJWT({ sub: pA1.sub, scope: 'patient/*.read' })
        .setProtectedHeader({ alg: 'HS256', kid: idp.key.kid })
        .setIssuer(idp.issuer)
        .setAudience(`${GATEWAY}/fhir`)
        .setIssuedAt(now)
        .setExpirationTime(now + 300)
        .sign(crypto.randomBytes(32));
      await expectInvalidToken(await read(token), /algorithm is not accepted/);
    });

    it('for a subject that is not a MediLens user', async () => {
      await expectInvalidToken(await read(await idp.token({ sub: 'user_nobody', scope: 'patient/*.read' })), /not an active MediLens user/);
    });

    it('for a deactivated user', async () => {
      const inactive = await createUser(db.dataSource, orgA, ['clinician'], { active: false });
      await expectInvalidToken(await read(await tokenFor(inactive, 'user/*.read')), /not an active MediLens user/);
    });

    it('for a deleted user', async () => {
      const deleted = await createUser(db.dataSource, orgA, ['clinician']);
      await db.dataSource.query(`UPDATE users SET deleted_at = NOW() WHERE id = $1`, [deleted.id]);
      await expectInvalidToken(await read(await tokenFor(deleted, 'user/*.read')), /not an active MediLens user/);
    });
  });

  describe('the JWK Set', () => {
    it('is fetched once and cached across requests', async () => {
      const fresh = testApp(db, idp.env());
      const before = idp.fetches;
      for (let i = 0; i < 5; i++) {
        const token = await tokenFor(i % 2 ? cA : pA1, i % 2 ? 'user/*.read' : 'patient/*.read');
        await get(fresh, `/fhir/Patient/${pA1.id}`, token).expect(200);
      }
      const fetched = idp.fetches - before;
      expect(fetched).toBeGreaterThanOrEqual(1);
      expect(fetched).toBeLessThanOrEqual(2);
    });
  });

  describe("the gateway's own backend tokens", () => {
    it('still work next to user tokens', async () => {
      const clientId = `backend-${crypto.randomUUID().slice(0, 8)}`;
      const key = await keyClient(db, clientId, 'system/Patient.rs system/Observation.rs', orgA);
      const token = await backendToken(app, clientId, key, 'system/Patient.rs');
      expect((await get(app, `/fhir/Patient/${pA1.id}`, token).expect(200)).body.id).toBe(pA1.id);
      await get(app, `/fhir/Patient/${pB1.id}`, token).expect(404);
      expect(entryIds((await get(app, '/fhir/Patient', token).expect(200)).body)).toEqual([pA1.id, pA2.id].sort());
      // Granted Patient only: Observation needs its own system/ scope.
      const res = await get(app, `/fhir/Observation/${pA1.observationId}`, token).expect(403);
      expect(diagnostics(res.body)).toContain('system/Observation.r');
    });
  });
});
