import 'reflect-metadata';
import { createApp, createAuditTrail } from './app';
import { ConfigError, loadConfig, type Config } from './config';
import { openDatabase } from './db/datasource';
import { migrate } from './db/migrate';
import { bootstrapDemo } from './demo/bootstrap';
import { ensureDemoClient, type DemoClient } from './demo/client';
import { createLogger } from './logging';
import type { PhiKeyRing } from './phi/keyring';
import { resolvePhiKeys } from './phi/resolve';
import { assertPhiKeysCoverDatabase } from './phi/stored';
import { listen, onShutdownSignal } from './server';

/** The configuration and the PHI key ring, or one line naming what to set and exit status 2. */
function configOrExit(): { config: Config; phiKeys: PhiKeyRing } {
  try {
    const config = loadConfig(process.env);
    return { config, phiKeys: resolvePhiKeys(config) };
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`Configuration error: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

async function main(): Promise<void> {
  const { config, phiKeys } = configOrExit();
  const logger = createLogger(config.logLevel);
  const db = await openDatabase(config.database, { poolSize: config.dbPoolSize });
  const applied = await migrate(db.dataSource);
  if (applied.length > 0) logger.info({ migrations: applied }, 'applied migrations');
  // Stored PHI under a key the ring lacks is unreadable, and rotation would stop at it: say so at start.
  await assertPhiKeysCoverDatabase(db.dataSource, phiKeys).catch(async (err: unknown) => {
    await db.close();
    throw err;
  });
  // access_logs and audit_events partitions for the coming months, now and daily while running; the default partition
  // catches anything beyond, so a missed run costs speed, never an insert.
  const ensurePartitions = () =>
    db.dataSource.query(`SELECT ensure_monthly_partitions('access_logs', current_date, 3), ensure_monthly_partitions('audit_events', current_date, 3)`);
  await ensurePartitions();
  const partitionTimer = setInterval(() => {
    ensurePartitions().catch((err: unknown) => logger.warn({ err }, 'could not create access_logs and audit_events partitions'));
  }, 24 * 60 * 60 * 1000);
  partitionTimer.unref();
  const demo = config.demoData ? await bootstrapDemo(db.dataSource, logger, phiKeys) : null;
  const demoClient = config.demoData ? await ensureDemoClient(db.dataSource) : null;

  const audit = createAuditTrail({ config, db, logger });
  if (!config.audit.enabled) logger.warn('AUDIT=off: no AuditEvents and no access_logs rows are recorded (for measuring the audit only)');

  let base = config.publicBaseUrl;
  const running = await listen(
    (port) => {
      // PORT=0: the system picked the port, and every URL the app hands out must carry it.
      if (config.port === 0) base = config.publicBaseUrl.replace(/:\d+$/, `:${port}`);
      return createApp({ config: { ...config, publicBaseUrl: base }, db, logger, audit });
    },
    config.port,
    config.host,
  );
  // Handlers first: whoever reads "listening" in the banner may send SIGTERM at once.
  onShutdownSignal(logger, async () => {
    clearInterval(partitionTimer);
    await running.stop(config.shutdownTimeoutMs);
    // Every request has ended: what they queued for the audit is written before the database closes.
    await audit.close();
    await db.close();
    logger.info('stopped');
    logger.flush();
  });
  process.stdout.write(banner(base, db.backend, config, demo, demoClient));
}

function banner(
  base: string,
  backend: string,
  config: Config,
  demo: Awaited<ReturnType<typeof bootstrapDemo>>,
  client: DemoClient | null,
): string {
  const where = config.database.kind === 'embedded' ? `embedded PGlite in ${config.database.dataDir ?? 'memory'}` : backend;
  const lines = [
    '',
    `MediLens FHIR Gateway listening on ${base} (database: ${where})`,
    demo ? `  demo data: ${demo.description}` : undefined,
    `  curl ${base}/healthz`,
    `  curl ${base}/readyz`,
    `  curl ${base}/fhir/metadata`,
    `  curl ${base}/fhir/.well-known/smart-configuration`,
    ...(client ? demoClientLines(base, client) : []),
    '',
  ];
  return lines.filter((l) => l !== undefined).join('\n') + '\n';
}

/** Copy-pasteable: get a token as the demo client, then read a Patient and search their reports and time series. */
function demoClientLines(base: string, client: DemoClient): string[] {
  return [
    '',
    `  demo backend client "${client.clientId}" (client_secret_basic; this secret lasts until the next start):`,
    `  TOKEN=$(curl -s -u '${client.clientId}:${client.secret}' --data-urlencode grant_type=client_credentials \\`,
    `    --data-urlencode 'scope=${client.scope}' ${base}/auth/token \\`,
    `    | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).access_token')`,
    ...(client.patientId
      ? [
          `  curl -s -H "Authorization: Bearer $TOKEN" ${base}/fhir/Patient/${client.patientId}`,
          `  curl -s -H "Authorization: Bearer $TOKEN" '${base}/fhir/DiagnosticReport?patient=${client.patientId}&_include=DiagnosticReport:result&_count=2'`,
          `  curl -s -H "Authorization: Bearer $TOKEN" '${base}/fhir/Observation?patient=${client.patientId}&_sort=-date&_count=10'`,
        ]
      : [`  curl -s -H "Authorization: Bearer $TOKEN" '${base}/fhir/Patient?_count=5'`]),
    '  # register a patient once, however often it is sent (a second run answers 200 with the same Patient):',
    `  curl -s -X POST ${base}/fhir/Patient -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/fhir+json' \\`,
    `    -H 'If-None-Exist: identifier=http://hospital.example/mrn|MRN-42' \\`,
    `    -d '{"resourceType":"Patient","identifier":[{"system":"http://hospital.example/mrn","value":"MRN-42"}],"name":[{"family":"Shaw","given":["Amy"]}],"birthDate":"1987-02-20"}'`,
  ];
}

main().catch((err: unknown) => {
  process.stderr.write(`Start-up failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
