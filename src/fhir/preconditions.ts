import type { IncomingHttpHeaders } from 'node:http';
import { badRequest } from './outcomes';

/** If-Match: W/"3" (or "3"): the version the client last saw; undefined without the header. */
export function ifMatchVersion(headers: IncomingHttpHeaders): number | undefined {
  const raw = headers['if-match'];
  if (raw === undefined) return undefined;
  const m = /^\s*(?:W\/)?"([1-9]\d{0,8})"\s*$/.exec(raw);
  if (!m) throw badRequest(`If-Match must be a version ETag such as W/"3", not ${JSON.stringify(raw.slice(0, 40))}`);
  return Number(m[1]);
}

/**
 * If-None-Exist (and conditional update's query): search criteria as a query. The gateway matches on
 * identifier=system|value, the one criterion a unique key makes race-free.
 */
export function identifierCriteria(raw: string, what: string): { system: string; value: string } {
  const query = new URLSearchParams(raw.replace(/^\s*(?:[A-Za-z]+)?\?/, ''));
  const names = [...new Set(query.keys())];
  const values = query.getAll('identifier');
  if (names.length !== 1 || names[0] !== 'identifier' || values.length !== 1) {
    throw badRequest(`${what} must be exactly identifier=system|value (the criterion this server can match race-free)`);
  }
  const token = values[0];
  const bar = token.indexOf('|');
  const system = bar < 0 ? '' : token.slice(0, bar);
  const value = bar < 0 ? '' : token.slice(bar + 1);
  if (!system || !value || value.includes('|') || token.includes(',')) {
    throw badRequest(`${what} must name one identifier as system|value, both parts present`);
  }
  return { system, value };
}

export type ReturnPreference = 'minimal' | 'representation' | 'OperationOutcome';

/** Prefer: return=... (RFC 7240, FHIR R4 §3.1.0.10.3); representation unless asked otherwise. */
export function returnPreference(headers: IncomingHttpHeaders): ReturnPreference {
  const m = /(?:^|[;,\s])return\s*=\s*"?(minimal|representation|OperationOutcome)"?/i.exec(String(headers.prefer ?? ''));
  if (!m) return 'representation';
  const value = m[1].toLowerCase();
  return value === 'minimal' ? 'minimal' : value === 'operationoutcome' ? 'OperationOutcome' : 'representation';
}
