import { dbIdentity, rowAccess } from '../../auth/access';
import { withDbContext } from '../../db/context';
import type { ResourceDefinition } from '../../search/definition';
import { readRow } from '../../search/query';
import type { Handler } from '../interaction';
import { gone, notFound } from '../outcomes';
import { resourceHeaders } from './headers';

/**
 * GET [type]/[id]: 404 for an id that does not exist OR is outside the caller's reach (no existence
 * leaks), 410 for a deleted one within it.
 */
export function readHandler(def: ResourceDefinition): Handler {
  return async (req, deps) => {
    const access = req.access!;
    const reach = rowAccess(access, def.type, 'r');
    const result = await withDbContext(deps.db.dataSource, dbIdentity(access), (tx) => readRow(tx, def, reach, req.params.id));
    if (!result) throw notFound(`${def.type}/${req.params.id} is not known`);
    if (result.deleted) throw gone(`${def.type}/${req.params.id} has been deleted`);
    const resource = def.toResource(result.row, { canonicalBase: deps.config.canonicalBase });
    return { status: 200, body: resource, headers: resourceHeaders(resource) };
  };
}
