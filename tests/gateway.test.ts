import { Writable } from 'node:stream';
import request from 'supertest';
import type { Express } from 'express';
import { createApp } from '../src/app';
import { loadConfig } from '../src/config';
import { createLogger } from '../src/logging';
import { openTestDatabase, testBackend, type TestDatabase } from './support/database';

describe(`gateway HTTP basics (${testBackend()})`, () => {
  let db: TestDatabase;
  let app: Express;
  const logLines: Record<string, unknown>[] = [];
  beforeAll(async () => {
    db = await openTestDatabase();
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) logLines.push(JSON.parse(line));
        done();
      },
    });
    app = createApp({ config: loadConfig({ PORT: '0' }), db, logger: createLogger('info', sink) });
  });
  afterAll(() => db.close());

  it('GET /healthz answers while the process is up', async () => {
    const res = await request(app).get('/healthz').expect(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('GET /readyz is 200 with a reachable, current database and 503 with pending migrations', async () => {
    expect((await request(app).get('/readyz').expect(200)).body).toEqual({ status: 'ready', backend: testBackend() });
    await db.dataSource.undoLastMigration({ transaction: 'each' });
    try {
      const res = await request(app).get('/readyz').expect(503);
      expect(res.body).toEqual({ status: 'unavailable', reason: 'database migrations are pending' });
    } finally {
      await db.dataSource.runMigrations({ transaction: 'each' });
    }
    await request(app).get('/readyz').expect(200);
  });

  it('answers an unknown route with a FHIR OperationOutcome, not an HTML page', async () => {
    const res = await request(app).get('/fhir/Nothing/here').expect(404);
    expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
    expect(res.body).toEqual({
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', code: 'not-found', diagnostics: 'No route for GET /fhir/Nothing/here' }],
    });
  });

  it('echoes a well-formed X-Request-Id, replaces a malformed one, and logs one JSON line without query or headers', async () => {
    const good = await request(app).get('/healthz?name=Alice').set('X-Request-Id', 'req-12345678').set('Authorization', 'Bearer secret-token');
    expect(good.headers['x-request-id']).toBe('req-12345678');
    const bad = await request(app).get('/healthz').set('X-Request-Id', 'bad id with spaces');
    expect(bad.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);

    const line = logLines.find((l) => (l.req as { id?: string } | undefined)?.id === 'req-12345678');
    expect(line).toMatchObject({ level: 30, req: { method: 'GET', path: '/healthz' }, res: { statusCode: 200 } });
    const text = JSON.stringify(logLines);
    expect(text).not.toContain('secret-token');
    expect(text).not.toContain('Alice');
  });
});
