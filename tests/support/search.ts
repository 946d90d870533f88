import type { Express } from 'express';
import type { Bundle, OperationOutcome } from 'fhir/r4';
import request from 'supertest';
import { GATEWAY } from './auth';

/** A GET (or form POST) as one caller: the app and a real bearer token. */
export interface Caller {
  get(path: string, headers?: Record<string, string>): request.Test;
  post(path: string, form: string, headers?: Record<string, string>): request.Test;
}

export function caller(app: Express, token: string): Caller {
  return {
    get: (path, headers = {}) => request(app).get(path).auth(token, { type: 'bearer' }).set(headers),
    post: (path, form, headers = {}) =>
      request(app).post(path).auth(token, { type: 'bearer' }).type('form').set(headers).send(form),
  };
}

/** Ids of the bundle's entries with this search mode (match: the search's own results). */
export function entryIds(bundle: Bundle, mode: 'match' | 'include' = 'match'): string[] {
  return (bundle.entry ?? []).filter((e) => e.search?.mode === mode).map((e) => e.resource!.id!);
}

/** `Type/id` of the bundle's entries with this search mode. */
export function entryRefs(bundle: Bundle, mode: 'match' | 'include' = 'match'): string[] {
  return (bundle.entry ?? []).filter((e) => e.search?.mode === mode).map((e) => `${e.resource!.resourceType}/${e.resource!.id}`);
}

export const sorted = (values: readonly string[]): string[] => [...values].sort();

export function link(bundle: Bundle, relation: 'self' | 'next'): string | undefined {
  return bundle.link?.find((l) => l.relation === relation)?.url;
}

/** A link of this gateway as a path the test app serves. */
export function pathOf(url: string): string {
  if (!url.startsWith(GATEWAY)) throw new Error(`link ${url} is not on ${GATEWAY}`);
  return url.slice(GATEWAY.length);
}

/**
 * Every match of a search, following next links to the end. Fails the test on any non-200 page.
 * `between` runs after each page (to change the data while paging).
 */
export async function allPages(
  who: Caller,
  path: string,
  between?: (pageNumber: number) => Promise<void>,
): Promise<{ ids: string[]; pages: Bundle[] }> {
  const pages: Bundle[] = [];
  let next: string | undefined = path;
  while (next !== undefined) {
    const res = await who.get(next);
    if (res.status !== 200) throw new Error(`GET ${next} answered ${res.status}: ${JSON.stringify(res.body)}`);
    const bundle = res.body as Bundle;
    pages.push(bundle);
    const url = link(bundle, 'next');
    next = url === undefined ? undefined : pathOf(url);
    if (between && next !== undefined) await between(pages.length);
  }
  return { ids: pages.flatMap((p) => entryIds(p)), pages };
}

/** The single issue of a 4xx OperationOutcome. */
export function issueOf(body: unknown): NonNullable<OperationOutcome['issue']>[number] {
  const outcome = body as OperationOutcome;
  expect(outcome.resourceType).toBe('OperationOutcome');
  expect(outcome.issue).toHaveLength(1);
  return outcome.issue[0];
}
