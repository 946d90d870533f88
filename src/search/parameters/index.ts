import type { SearchParameter } from '../definition';
import { InvalidSearch } from '../errors';
import type { SqlParams } from '../sql';
import { datePredicate } from './date';
import { quantityPredicate } from './quantity';
import { referencePredicate } from './reference';
import { stringPredicate } from './string';
import { tokenPredicate } from './token';

/** One parameter occurrence of a search: `name[:modifier]=value` (the value's commas are ORs). */
export interface Filter {
  readonly name: string;
  readonly modifier: string | null;
  readonly value: string;
}

/**
 * The SQL predicate for one filter, dispatched on the parameter's TYPE; :missing works for every type.
 * Throws InvalidSearch (400) for a value or modifier the parameter cannot take.
 */
export function filterPredicate(params: SqlParams, parameter: SearchParameter, filter: Filter, base: string): string {
  const { name, modifier, value } = filter;
  if (modifier === 'missing') {
    if (value !== 'true' && value !== 'false') throw new InvalidSearch(`${name}:missing takes true or false, not ${value}`, `${name}:missing`);
    const missing = parameter.missing ?? 'FALSE';
    return value === 'true' ? missing : `NOT (${missing})`;
  }
  switch (parameter.type) {
    case 'token':
      return tokenPredicate(params, name, parameter, modifier, value);
    case 'date':
      return datePredicate(params, name, parameter, modifier, value);
    case 'string':
      return stringPredicate(params, name, parameter, modifier, value);
    case 'reference':
      return referencePredicate(params, name, parameter, modifier, value, base);
    case 'quantity':
      return quantityPredicate(params, name, parameter, modifier, value);
  }
}
