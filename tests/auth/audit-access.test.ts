import { rowAccess, type AccessContext } from '../../src/auth/access';
import { AccessDenied } from '../../src/auth/errors';
import { RESOURCE_TYPES } from '../../src/auth/resource-types';
import { covers, formatScope, grantScopes, intersectScope, parseScope, parseScopes } from '../../src/auth/scopes';

/**
 * The audit log (AuditEvent) is for operators only: an admin user or a backend client, holding a scope
 * that names AuditEvent (a wildcard does not reach it; patient/ scopes never do). No database.
 */

const ORG = '5e0f5a4b-7c2d-4e8f-9a1b-0000000000f1';
const USER = '2a0f5a4b-7c2d-4e8f-9a1b-00000000000c';

function client(scope: string, organizationId: string | null = ORG): AccessContext {
  return {
    kind: 'client',
    clientId: 'auditor',
    subject: 'auditor',
    fhirUser: null,
    scopes: parseScopes(scope, RESOURCE_TYPES).resource.filter((s) => s.context === 'system'),
    userId: null,
    role: 'system',
    organizationId,
    allOrganizations: organizationId === null,
    patientId: null,
    compartment: null,
    identifiable: true,
  };
}

function user(role: AccessContext['role'], scope: string, extra: Partial<AccessContext> = {}): AccessContext {
  return {
    kind: 'user',
    clientId: 'console',
    subject: 'user_2abc',
    fhirUser: `Practitioner/${USER}`,
    scopes: parseScopes(scope, RESOURCE_TYPES).resource.filter((s) => s.context !== 'system'),
    userId: USER,
    role,
    organizationId: ORG,
    allOrganizations: false,
    patientId: null,
    compartment: role === 'patient' ? USER : null,
    identifiable: role !== 'researcher',
    ...extra,
  };
}

/** The AccessDenied message (or 'allowed'). */
function outcome(access: AccessContext, interaction: 'r' | 's' = 's'): string {
  try {
    rowAccess(access, 'AuditEvent', interaction);
    return 'allowed';
  } catch (err) {
    if (err instanceof AccessDenied) return err.message;
    throw err;
  }
}

describe('rowAccess for AuditEvent', () => {
  it('allows a backend client with system/AuditEvent.rs (v2 or v1), bounded by its organization', () => {
    for (const scope of ['system/AuditEvent.rs', 'system/AuditEvent.read', 'system/AuditEvent.s system/AuditEvent.r']) {
      expect([scope, outcome(client(scope))]).toEqual([scope, 'allowed']);
    }
    expect(rowAccess(client('system/AuditEvent.rs'), 'AuditEvent', 'r')).toEqual({
      resourceType: 'AuditEvent',
      organizationId: ORG,
      allOrganizations: false,
      compartment: null,
      alternatives: [{ patientId: null, filters: [] }],
    });
    expect(rowAccess(client('system/AuditEvent.rs', null), 'AuditEvent', 's')).toMatchObject({ allOrganizations: true });
  });

  it('allows an admin user with user/AuditEvent.rs', () => {
    expect(outcome(user('admin', 'user/AuditEvent.rs'))).toBe('allowed');
    expect(outcome(user('admin', 'user/AuditEvent.rs'), 'r')).toBe('allowed');
  });

  it('does not count wildcard scopes: system/*.rs, system/*.*, user/*.read grant every type but the audit log', () => {
    for (const scope of ['system/*.rs', 'system/*.*', 'system/*.read']) {
      const message = outcome(client(scope));
      expect([scope, message]).toEqual([scope, expect.stringContaining('it needs scope system/AuditEvent.s (v1: system/AuditEvent.read)')]);
      // The same scope still reaches clinical data.
      expect(rowAccess(client(scope), 'Observation', 's').alternatives).toHaveLength(1);
    }
    expect(outcome(user('admin', 'user/*.rs user/*.cruds'))).toContain('it needs scope user/AuditEvent.s (v1: user/AuditEvent.read)');
  });

  it('names the interaction: a search scope does not read, a read scope does not search', () => {
    expect(outcome(client('system/AuditEvent.s'), 'r')).toContain('needs scope system/AuditEvent.r');
    expect(outcome(client('system/AuditEvent.r'), 's')).toContain('needs scope system/AuditEvent.s');
  });

  it('never counts patient/ scopes, and never offers one in the message', () => {
    const admin = user('admin', 'patient/AuditEvent.rs', { patientId: '1e0f5a4b-7c2d-4e8f-9a1b-000000000001' });
    const message = outcome(admin);
    expect(message).toContain('needs scope user/AuditEvent.s');
    expect(message).not.toContain('patient/');
  });

  it.each([
    ['clinician', 'user/AuditEvent.rs'],
    ['researcher', 'user/AuditEvent.rs'],
    ['patient', 'user/AuditEvent.rs patient/AuditEvent.rs'],
    ['patient', 'patient/AuditEvent.rs'],
  ] as const)('refuses a %s whatever the scopes (%s), naming the scopes operators use', (role, scope) => {
    const message = outcome(user(role, scope, role === 'patient' ? { fhirUser: `Patient/${USER}`, patientId: USER } : {}));
    expect(message).toContain('user/AuditEvent.rs');
    expect(message).toContain('system/AuditEvent.rs');
    expect(message).toContain(`the ${role} role`);
  });

  it('leaves every other type as it was: wildcards reach them', () => {
    expect(rowAccess(user('clinician', 'user/*.rs'), 'Patient', 'r').alternatives).toHaveLength(1);
    expect(rowAccess(client('system/*.rs'), 'Provenance', 's').alternatives).toHaveLength(1);
  });
});

describe('granting AuditEvent scopes', () => {
  const must = (text: string) => parseScope(text, RESOURCE_TYPES)!;
  const granted = (requested: string, allowed: string) =>
    grantScopes(parseScopes(requested, RESOURCE_TYPES).resource, parseScopes(allowed, RESOURCE_TYPES).resource, ['system']).map(formatScope);

  it('a client allowed system/*.rs cannot ask its way into the audit log', () => {
    expect(intersectScope(must('system/AuditEvent.rs'), must('system/*.rs'))).toBeNull();
    expect(granted('system/AuditEvent.rs', 'system/*.rs')).toEqual([]);
    expect(granted('system/AuditEvent.rs system/Patient.rs', 'system/*.*')).toEqual(['system/Patient.rs']);
  });

  it('a client allowed system/AuditEvent.rs by name gets it, also when asking for a wildcard', () => {
    expect(granted('system/AuditEvent.rs', 'system/AuditEvent.rs')).toEqual(['system/AuditEvent.rs']);
    expect(granted('system/*.rs', 'system/AuditEvent.rs')).toEqual(['system/AuditEvent.rs']);
  });

  it('keeps the named scope next to a granted wildcard: the wildcard does not cover it', () => {
    expect(covers(must('system/*.rs'), must('system/AuditEvent.rs'))).toBe(false);
    expect(covers(must('system/*.rs'), must('system/Patient.rs'))).toBe(true);
    expect(granted('system/*.rs system/AuditEvent.rs', 'system/*.rs system/AuditEvent.rs')).toEqual(['system/*.rs', 'system/AuditEvent.rs']);
  });
});
