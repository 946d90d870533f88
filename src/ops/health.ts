import { Router } from 'express';
import type { AuditTrail } from '../audit/trail';
import type { Database } from '../db/datasource';
import { migrationsCurrent } from '../db/migrate';

/**
 * /healthz: the process is up (for restarts). /readyz: the database answers and the schema is current
 * (for load balancers) and the audit trail keeps up; 503 otherwise, with the reason.
 */
export function healthRoutes(db: Database, audit: AuditTrail): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (req, res) => {
    try {
      await db.dataSource.query('SELECT 1');
      if (!(await migrationsCurrent(db.dataSource))) {
        res.status(503).json({ status: 'unavailable', reason: 'database migrations are pending' });
        return;
      }
      if (audit.overloaded) {
        res.status(503).json({ status: 'unavailable', reason: 'the audit trail is behind' });
        return;
      }
      res.json({ status: 'ready', backend: db.backend });
    } catch (err) {
      req.log?.warn({ err }, 'readiness check failed');
      res.status(503).json({ status: 'unavailable', reason: 'database unreachable' });
    }
  });
  return router;
}
