import { applyPatch, deepClone, JsonPatchError, validate, type Operation } from 'fast-json-patch';
import { badRequest, preconditionFailed, unprocessable } from '../fhir/outcomes';
import { unstorableJson } from '../validation/unstorable-json';

const MAX_OPERATIONS = 1000;

/**
 * RFC 6902 on a copy of `resource`. A document that is not a patch is the request's fault (400); a
 * patch that cannot apply to this resource is unprocessable (422), and a failed `test` is the
 * precondition it states (412), as a failed If-Match would be.
 */
export function applyJsonPatch<T extends object>(resource: T, operations: Operation[]): T {
  if (!Array.isArray(operations)) throw badRequest('A JSON Patch document is an array of operations');
  if (operations.length > MAX_OPERATIONS) throw badRequest(`A patch may hold at most ${MAX_OPERATIONS} operations`);
  // Before the patch library walks the values (recursively): runaway nesting, NUL, unkeepable numbers.
  const unstorable = unstorableJson(operations, 'patch');
  if (unstorable.length) throw badRequest(`The JSON Patch cannot be applied: ${unstorable[0].diagnostics}`, unstorable[0].expression);
  const invalid = validate(operations);
  if (invalid) throw badRequest(`The JSON Patch is not valid: ${describe(invalid, operations)}`);
  try {
    return applyPatch(deepClone(resource) as T, operations, true, true, true).newDocument;
  } catch (err) {
    if (err instanceof JsonPatchError) {
      if (err.name === 'TEST_OPERATION_FAILED') throw preconditionFailed(`The patch's test failed${describe(err, operations).replace(/^[^(]*/, ' ')}: the resource is not as the patch expects`);
      throw unprocessable([{ diagnostics: `The patch cannot apply to this resource: ${describe(err, operations)}` }]);
    }
    // fast-json-patch refuses __proto__ / constructor paths with a TypeError.
    if (err instanceof TypeError) throw badRequest('The JSON Patch modifies a forbidden path');
    throw err;
  }
}

function describe(err: JsonPatchError, operations: Operation[]): string {
  const at = err.index !== undefined ? ` (operation ${err.index}${operations[err.index]?.path !== undefined ? `, path ${JSON.stringify(operations[err.index].path)}` : ''})` : '';
  return `${err.message.split('\n')[0]}${at}`;
}
