import { factsOf } from '../../audit/facts';
import { dbIdentity, rowAccess } from '../../auth/access';
import { withDbContext } from '../../db/context';
import type { ResourceDefinition } from '../../search/definition';
import { instanceVersions } from '../../search/history';
import { readRow, type ViewRow } from '../../search/query';
import type { Handler } from '../interaction';
import { gone, notFound } from '../outcomes';
import { resourceHeaders } from './headers';

/**
 * GET [type]/[id]: 404 for an id that does not exist OR is outside the caller's reach (no existence
 * leaks), 410 for a deleted one within it (soft-deleted, or removed outright with a tombstone).
 */
export function readHandler(def: ResourceDefinition): Handler {
  return async (req, deps) => {
    const access = req.access!;
    const reach = rowAccess(access, def.type, 'r');
    const id = req.params.id;
    const result = await withDbContext(deps.db.dataSource, dbIdentity(access), async (tx) => {
      const live = await readRow(tx, def as ResourceDefinition<ViewRow>, reach, id);
      if (live) return { deleted: live.deleted, row: live.row };
      // No live row but versions within reach: deleted outright, or no longer of this type (a patient
      // who became staff only). Either way it was here and is gone.
      const [latest] = await instanceVersions(tx, def, reach, id, { since: null, beforeVersion: null, limit: 1 });
      return latest ? { deleted: true, row: null } : null;
    });
    if (!result) throw notFound(`${def.type}/${id} is not known`);
    if (result.deleted) throw gone(`${def.type}/${id} has been deleted`);
    const resource = def.toResource(result.row, { canonicalBase: deps.config.canonicalBase });
    return { status: 200, body: resource, headers: resourceHeaders(resource), audit: factsOf([resource], { entities: true }) };
  };
}

/** GET [type]/[id]/_history/[vid]: any version the caller may see; 410 for a deletion. */
export function vreadHandler(def: ResourceDefinition): Handler {
  return async (req, deps) => {
    const access = req.access!;
    const reach = rowAccess(access, def.type, 'r');
    const { id, vid } = req.params;
    if (!/^[1-9]\d{0,8}$/.test(vid)) throw notFound(`${def.type}/${id} has no version ${vid}`);
    const [version] = await withDbContext(deps.db.dataSource, dbIdentity(access), (tx) =>
      instanceVersions(tx, def, reach, id, { since: null, beforeVersion: null, limit: 1, version: Number(vid) }),
    );
    if (!version) throw notFound(`${def.type}/${id} has no version ${vid}`);
    if (version.deleted || version.projection === null) throw gone(`${def.type}/${id} version ${vid} is a deletion`);
    const resource = def.toResource(version.projection, { canonicalBase: deps.config.canonicalBase });
    return { status: 200, body: resource, headers: resourceHeaders(resource), audit: factsOf([resource], { entities: true }) };
  };
}
