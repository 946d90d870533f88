import { RESOURCE_TYPES } from '../../src/auth/resource-types';
import {
  formatScope,
  grantScopes,
  intersectScope,
  parseScope,
  parseScopes,
  type ResourceScope,
  type ScopeContext,
} from '../../src/auth/scopes';

/**
 * The SMART scope grammar (v1 and v2) as pure functions: parsing, writing back, and narrowing a
 * requested scope by what a client is allowed. No database.
 */

const VITALS = 'category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs';
const HEART_RATE = 'code=http://loinc.org|8867-4';

const parse = (text: string) => parseScope(text, RESOURCE_TYPES);
/** A scope that must parse (tests build their inputs from these). */
const must = (text: string): ResourceScope => {
  const scope = parse(text);
  if (!scope) throw new Error(`test input ${text} does not parse`);
  return scope;
};
const many = (text: string) => parseScopes(text, RESOURCE_TYPES).resource;
const grant = (requested: string, allowed: string, contexts: ScopeContext[] = ['patient', 'user', 'system']) =>
  grantScopes(many(requested), many(allowed), contexts);
const granted = (requested: string, allowed: string, contexts?: ScopeContext[]) => grant(requested, allowed, contexts).map(formatScope);

/**
 * Written independently of covers(): `outer` permits everything `inner` does when the context is the
 * same, the type is the same or '*', the letters are a subset, and every filter of outer restricts
 * inner too.
 */
function permits(outer: ResourceScope, inner: ResourceScope): boolean {
  return (
    outer.context === inner.context &&
    (outer.resourceType === '*' || outer.resourceType === inner.resourceType) &&
    inner.interactions.every((i) => outer.interactions.includes(i)) &&
    outer.filters.every((f) => inner.filters.some((g) => g.name === f.name && g.value === f.value))
  );
}

/** What a scope permits, whichever version it was written in. */
const meaning = ({ version: _version, ...rest }: ResourceScope) => rest;

describe('parseScope', () => {
  describe('v1 permissions read as their v2 letters', () => {
    it.each([
      ['system/Patient.read', 'system', 'Patient', ['r', 's']],
      ['user/Observation.write', 'user', 'Observation', ['c', 'u', 'd']],
      ['patient/Patient.*', 'patient', 'Patient', ['c', 'r', 'u', 'd', 's']],
      ['patient/*.read', 'patient', '*', ['r', 's']],
      ['system/*.*', 'system', '*', ['c', 'r', 'u', 'd', 's']],
    ])('%s', (text, context, resourceType, interactions) => {
      expect(parse(text)).toEqual({ context, resourceType, interactions, filters: [], version: 'v1' });
    });
  });

  describe('v2 letters, each at most once and in c r u d s order', () => {
    it.each([
      ['system/Patient.rs', ['r', 's']],
      ['system/Patient.r', ['r']],
      ['system/Patient.s', ['s']],
      ['system/Patient.c', ['c']],
      ['system/Patient.cud', ['c', 'u', 'd']],
      ['system/Patient.cruds', ['c', 'r', 'u', 'd', 's']],
      ['system/Patient.us', ['u', 's']],
    ])('%s', (text, interactions) => {
      expect(parse(text)).toEqual({ context: 'system', resourceType: 'Patient', interactions, filters: [], version: 'v2' });
    });

    it.each([
      ['out of order', 'system/Patient.sr'],
      ['out of order', 'system/Patient.scrud'],
      ['repeated', 'system/Patient.rrs'],
      ['repeated', 'system/Patient.rss'],
      ['not a letter of the grammar', 'system/Patient.x'],
      ['not a letter of the grammar', 'system/Patient.rsx'],
      ['empty', 'system/Patient.'],
      ['upper case', 'system/Patient.RS'],
      ['v1 word misspelt', 'system/Patient.reads'],
      ['v1 word in upper case', 'system/Patient.Read'],
      ['v1 and v2 mixed', 'system/Patient.*s'],
      // Object.prototype members are not permission words ("constructor" matches [a-z]+).
      ['an Object.prototype member', 'system/Patient.constructor'],
    ])('rejects %s: %s', (_why, text) => {
      expect(parse(text)).toBeNull();
    });
  });

  describe('context and resource type', () => {
    it('accepts the wildcard type', () => {
      expect(parse('user/*.rs')).toMatchObject({ context: 'user', resourceType: '*' });
    });

    it.each([...RESOURCE_TYPES])('accepts served type %s', (type) => {
      expect(parse(`system/${type}.rs`)?.resourceType).toBe(type);
    });

    it.each([
      ['a type the gateway does not serve', 'system/Encounter.rs'],
      ['a made-up type', 'system/Foo.read'],
      ['a lower-case type', 'system/patient.rs'],
      ['an unknown context', 'admin/Patient.rs'],
      ['no context', 'Patient.rs'],
      ['no permission', 'system/Patient'],
      ['the empty string', ''],
      ['surrounding whitespace', ' system/Patient.rs'],
      ['two scopes in one word', 'system/Patient.rs,system/Observation.rs'],
    ])('rejects %s: "%s"', (_why, text) => {
      expect(parse(text)).toBeNull();
    });
  });

  describe('granular (v2) filters', () => {
    it('parses an observation-category restriction', () => {
      expect(parse(`patient/Observation.rs?${VITALS}`)).toEqual({
        context: 'patient',
        resourceType: 'Observation',
        interactions: ['r', 's'],
        filters: [{ name: 'category', value: 'http://terminology.hl7.org/CodeSystem/observation-category|vital-signs' }],
        version: 'v2',
      });
    });

    it('keeps several filters in order and percent-decodes their values', () => {
      expect(parse('user/Observation.r?code=http%3A%2F%2Floinc.org%7C8867-4&category=vital-signs')?.filters).toEqual([
        { name: 'code', value: 'http://loinc.org|8867-4' },
        { name: 'category', value: 'vital-signs' },
      ]);
    });

    it.each(['patient/Observation.read', 'patient/Observation.write', 'patient/Observation.*'])('rejects a v1 scope with a query: %s?…', (v1) => {
      expect(parse(`${v1}?${VITALS}`)).toBeNull();
    });

    it.each([
      ['an empty query', 'user/Observation.rs?'],
      ['a parameter without "="', 'user/Observation.rs?category'],
      ['a value without a name', 'user/Observation.rs?=vital-signs'],
      ['an empty value', 'user/Observation.rs?category='],
      ['a trailing "&"', 'user/Observation.rs?category=vital-signs&'],
      ['a leading "&"', 'user/Observation.rs?&category=vital-signs'],
      ['a name starting with a digit', 'user/Observation.rs?1category=vital-signs'],
      ['a name with a space', 'user/Observation.rs?cat egory=vital-signs'],
      ['a broken percent escape', 'user/Observation.rs?code=%E0%A4%A'],
    ])('rejects %s', (_why, text) => {
      expect(parse(text)).toBeNull();
    });
  });
});

describe('parseScopes', () => {
  it('sorts words into resource scopes, well-known other scopes and invalid ones', () => {
    const parsed = parseScopes(
      'openid fhirUser launch/patient  patient/Patient.read\n user/Foo.rs offline_access garbage system/Observation.rs?code=x system/Patient.sr',
      RESOURCE_TYPES,
    );
    expect(parsed.resource.map(formatScope)).toEqual(['patient/Patient.read', 'system/Observation.rs?code=x']);
    expect(parsed.other).toEqual(['openid', 'fhirUser', 'launch/patient', 'offline_access']);
    expect(parsed.invalid).toEqual(['user/Foo.rs', 'garbage', 'system/Patient.sr']);
  });

  it.each([undefined, '', '   \n\t'])('is empty for %p', (text) => {
    expect(parseScopes(text, RESOURCE_TYPES)).toEqual({ resource: [], other: [], invalid: [] });
  });

  it('checks types against the set it is given', () => {
    expect(parseScopes('system/Patient.rs system/Observation.rs', new Set(['Observation'])).resource.map((s) => s.resourceType)).toEqual([
      'Observation',
    ]);
  });
});

describe('formatScope', () => {
  it.each([
    'system/Patient.read',
    'user/*.write',
    'patient/Patient.*',
    'system/Patient.rs',
    'system/Patient.cruds',
    'system/Patient.cud',
    'user/Observation.s',
    `patient/Observation.rs?${VITALS}`,
    `user/Observation.r?${HEART_RATE}&${VITALS}`,
  ])('writes %s back as it was written', (text) => {
    expect(formatScope(must(text))).toBe(text);
  });

  it('keeps v1 where v1 can still say it, and falls back to v2 letters where it cannot', () => {
    const v1 = must('system/Patient.*');
    expect(formatScope({ ...v1, interactions: ['r', 's'] })).toBe('system/Patient.read');
    expect(formatScope({ ...v1, interactions: ['c', 'u', 'd'] })).toBe('system/Patient.write');
    expect(formatScope({ ...v1, interactions: ['r'] })).toBe('system/Patient.r');
    expect(formatScope({ ...v1, interactions: ['r', 's'], filters: [{ name: 'code', value: 'x' }] })).toBe('system/Patient.rs?code=x');
  });

  it('never turns a v2 scope into v1', () => {
    expect(formatScope(must('system/Patient.rs'))).toBe('system/Patient.rs');
  });

  // A granted scope travels as text (the token's scope claim) and is parsed again on every request:
  // writing it back must not change its meaning.
  it.each([
    ['a space', 'system/Observation.rs?code=a%20system/Patient.rs'],
    ['an ampersand', 'system/Observation.rs?code=a%26category%3Db'],
    ['a percent sign', 'system/Observation.rs?code=100%2541'],
  ])('round-trips a filter value containing %s', (_why, text) => {
    const scope = must(text);
    expect(parseScopes(formatScope(scope), RESOURCE_TYPES)).toEqual({ resource: [scope], other: [], invalid: [] });
  });
});

describe('intersectScope', () => {
  const meet = (requested: string, allowed: string) => {
    const scope = intersectScope(must(requested), must(allowed));
    return scope && formatScope(scope);
  };

  it.each([
    // type: the narrower one
    ['system/Patient.rs', 'system/*.rs', 'system/Patient.rs'],
    ['system/*.rs', 'system/Patient.rs', 'system/Patient.rs'],
    ['system/*.rs', 'system/*.rs', 'system/*.rs'],
    ['system/Patient.rs', 'system/Observation.rs', null],
    // context must match
    ['patient/Patient.rs', 'user/Patient.rs', null],
    ['user/Patient.rs', 'system/*.*', null],
    // interactions: the common letters
    ['system/Patient.cruds', 'system/Patient.rs', 'system/Patient.rs'],
    ['system/Patient.rs', 'system/Patient.r', 'system/Patient.r'],
    ['system/Patient.c', 'system/Patient.rs', null],
    ['system/Patient.write', 'system/Patient.read', null],
    // the requested version is kept where it can be said
    ['system/Patient.read', 'system/*.cruds', 'system/Patient.read'],
    ['system/Patient.read', 'system/Patient.r', 'system/Patient.r'],
    ['system/Patient.*', 'system/Patient.cud', 'system/Patient.write'],
    // filters: both sides' restrictions, each once
    [`system/Observation.rs?${HEART_RATE}`, `system/Observation.rs?${VITALS}`, `system/Observation.rs?${HEART_RATE}&${VITALS}`],
    [`system/Observation.rs?${VITALS}`, `system/*.rs?${VITALS}`, `system/Observation.rs?${VITALS}`],
    ['system/Observation.read', `system/Observation.rs?${VITALS}`, `system/Observation.rs?${VITALS}`],
  ])('%s ∩ %s = %s', (requested, allowed, expected) => {
    expect(meet(requested, allowed)).toBe(expected);
  });
});

describe('grantScopes', () => {
  it('narrows each requested scope by every allowed scope that covers part of it', () => {
    expect(granted('system/*.*', 'system/Patient.rs system/Observation.r')).toEqual(['system/Patient.read', 'system/Observation.r']);
    expect(granted('system/Patient.rs system/Practitioner.rs', 'system/Patient.r')).toEqual(['system/Patient.r']);
  });

  it('adds the allowed scope\'s filters to a broader request', () => {
    expect(granted('system/Observation.rs', `system/Observation.rs?${VITALS}`)).toEqual([`system/Observation.rs?${VITALS}`]);
  });

  it('grants nothing the allowed scopes do not name', () => {
    expect(granted('system/Practitioner.rs system/Patient.cud', 'system/Patient.rs system/Observation.rs')).toEqual([]);
  });

  it('drops scopes outside the permitted contexts: a backend client cannot get patient/ or user/ scopes', () => {
    const allowed = 'patient/*.* user/*.* system/*.*';
    expect(granted('patient/Patient.rs user/Observation.rs system/Patient.rs', allowed, ['system'])).toEqual(['system/Patient.rs']);
    expect(granted('patient/Patient.rs', allowed, ['system'])).toEqual([]);
  });

  it('grants equivalent v1 and v2 scopes once, in the form first asked for', () => {
    expect(granted('system/Patient.read system/Patient.rs', 'system/*.*')).toEqual(['system/Patient.read']);
    expect(granted('system/Patient.rs system/Patient.read', 'system/*.*')).toEqual(['system/Patient.rs']);
    expect(granted('system/Patient.* system/Patient.cruds system/Patient.read', 'system/*.*')).toEqual(['system/Patient.*']);
  });

  it('drops a scope another granted scope covers whole', () => {
    expect(granted('system/Patient.r system/*.rs', 'system/*.*')).toEqual(['system/*.rs']);
    expect(granted(`system/Observation.rs?${VITALS} system/Observation.rs`, 'system/*.*')).toEqual(['system/Observation.rs']);
  });

  it('grants equivalent granular scopes once, whatever the order of their filters', () => {
    expect(granted(`system/Observation.rs?${HEART_RATE}&${VITALS} system/Observation.rs?${VITALS}&${HEART_RATE}`, 'system/*.*')).toHaveLength(1);
    expect(granted(`system/Observation.rs?${VITALS}&${VITALS}`, 'system/*.*')).toHaveLength(1);
  });

  describe('never widens: every granted scope, as the token will carry it, is permitted by an allowed scope and by a requested one', () => {
    /** [requested, allowed, contexts] */
    const PAIRS: [string, string, ScopeContext[]][] = [
      ['system/*.*', 'system/Patient.rs', ['system']],
      ['system/*.read', 'system/Observation.r system/Patient.s', ['system']],
      ['system/Patient.cruds', 'system/*.read', ['system']],
      ['system/Patient.write system/Patient.read', 'system/Patient.cud', ['system']],
      ['system/Observation.rs', `system/Observation.rs?${VITALS}`, ['system']],
      [`system/Observation.rs?${HEART_RATE}`, `system/*.rs?${VITALS}`, ['system']],
      [`system/*.rs?${VITALS}`, 'system/Observation.r system/Patient.rs', ['system']],
      ['patient/*.* user/*.* system/*.*', 'system/Patient.rs', ['system']],
      ['patient/*.* user/Patient.rs', 'patient/Observation.rs user/*.read', ['patient', 'user']],
      ['system/Patient.read system/Patient.rs system/Patient.r', 'system/*.*', ['system']],
      [`system/Observation.rs?${VITALS}&${HEART_RATE} system/Observation.rs?${HEART_RATE}&${VITALS}`, 'system/*.*', ['system']],
      // Filter values are free text: they must not be able to smuggle another scope into the grant.
      ['system/Observation.rs?code=x%20system/Patient.rs', 'system/Observation.rs', ['system']],
      ['system/Observation.rs?code=x%20system/*.cruds', `system/Observation.rs?${VITALS}`, ['system']],
    ];

    it.each(PAIRS)('requested %s, allowed %s', (requested, allowed, contexts) => {
      const requestedScopes = many(requested);
      const allowedScopes = many(allowed);
      const grantedScopes = grantScopes(requestedScopes, allowedScopes, contexts);

      // What the client actually receives: the text of the token's scope claim, parsed as bearer.ts will.
      const carried = parseScopes(grantedScopes.map(formatScope).join(' '), RESOURCE_TYPES);
      const problems: string[] = [];
      for (const g of carried.resource) {
        const text = formatScope(g);
        if (!contexts.includes(g.context)) problems.push(`${text}: context ${g.context} not permitted`);
        if (!allowedScopes.some((a) => permits(a, g))) problems.push(`${text}: not permitted by any allowed scope`);
        if (!requestedScopes.some((r) => permits(r, g))) problems.push(`${text}: wider than any requested scope`);
      }
      expect(problems).toEqual([]);
      // ... and it says exactly what was granted.
      expect(carried.invalid).toEqual([]);
      expect(carried.resource.map(meaning)).toEqual(grantedScopes.map(meaning));
    });

    it('holds for every pair drawn from a pool of scopes', () => {
      const pool = [
        'system/*.*',
        'system/*.read',
        'system/*.rs',
        'system/Patient.read',
        'system/Patient.write',
        'system/Patient.r',
        'system/Patient.s',
        'system/Patient.cud',
        'system/Observation.rs',
        'system/Observation.*',
        `system/Observation.rs?${VITALS}`,
        `system/Observation.r?${HEART_RATE}`,
        `system/*.rs?${VITALS}&${HEART_RATE}`,
        'user/*.*',
        'user/Patient.rs',
        'patient/*.read',
        `patient/Observation.rs?${VITALS}`,
      ];
      const violations: string[] = [];
      for (const requested of pool) {
        for (const allowed of pool) {
          for (const second of ['', ...pool]) {
            const allowedScopes = many(`${allowed} ${second}`);
            const grantedScopes = grantScopes(many(requested), allowedScopes, ['system', 'user']);
            for (const g of grantedScopes) {
              if (!allowedScopes.some((a) => permits(a, g))) violations.push(`${requested} under ${allowed} ${second} -> ${formatScope(g)}`);
              if (!permits(must(requested), g)) violations.push(`${requested} under ${allowed} ${second} -> ${formatScope(g)} (wider than asked)`);
              if (g.context === 'patient') violations.push(`${requested} under ${allowed} ${second} -> ${formatScope(g)} (context)`);
            }
          }
        }
      }
      expect(violations).toEqual([]);
    });
  });
});
