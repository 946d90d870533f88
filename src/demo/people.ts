import { clamp, type Random } from './random';
import type { Row } from './writer';

/**
 * Organizations, patients and clinicians of a demo dataset. Every value comes from the entity's own seeded
 * stream and every timestamp from EPOCH, so the same seed always yields the same people.
 */

/** The demo data ends here: timestamps are EPOCH minus offsets, never the wall clock. */
export const EPOCH = Date.UTC(2026, 0, 1);
export const DAY_MS = 86_400_000;

export const iso = (ms: number): string => new Date(ms).toISOString();
export const isoDate = (ms: number): string => iso(ms).slice(0, 10);

interface Place {
  city: string;
  state: string;
  postalCode: string;
  timezone: string;
}

const PLACES: readonly Place[] = [
  { city: 'Boston', state: 'MA', postalCode: '02114', timezone: 'America/New_York' },
  { city: 'Baltimore', state: 'MD', postalCode: '21287', timezone: 'America/New_York' },
  { city: 'Atlanta', state: 'GA', postalCode: '30322', timezone: 'America/New_York' },
  { city: 'Chicago', state: 'IL', postalCode: '60611', timezone: 'America/Chicago' },
  { city: 'Houston', state: 'TX', postalCode: '77030', timezone: 'America/Chicago' },
  { city: 'Minneapolis', state: 'MN', postalCode: '55455', timezone: 'America/Chicago' },
  { city: 'Denver', state: 'CO', postalCode: '80045', timezone: 'America/Denver' },
  { city: 'Phoenix', state: 'AZ', postalCode: '85006', timezone: 'America/Phoenix' },
  { city: 'Seattle', state: 'WA', postalCode: '98104', timezone: 'America/Los_Angeles' },
  { city: 'San Diego', state: 'CA', postalCode: '92103', timezone: 'America/Los_Angeles' },
  { city: 'Oakland', state: 'CA', postalCode: '94609', timezone: 'America/Los_Angeles' },
  { city: 'Honolulu', state: 'HI', postalCode: '96813', timezone: 'Pacific/Honolulu' },
];

const CLINIC_NAMES = ['Community Clinic', 'Family Health Center', 'Eye & Vision Clinic', 'Heart Rhythm Clinic', 'Memory Care Clinic'];
const HOSPITAL_NAMES = ['General Hospital', 'Regional Medical Center', 'University Hospital', 'Memorial Hospital'];
const STREETS = ['Main St', 'Oak Ave', 'Medical Center Dr', 'Harbor Blvd', 'Park Ave', 'Lake Shore Dr', 'Elm St'];

const FEMALE = ['Maria', 'Emma', 'Olivia', 'Aisha', 'Mei', 'Sofia', 'Grace', 'Fatima', 'Priya', 'Hannah', 'Lucia', 'Chloe',
  'Amara', 'Yuki', 'Elena', 'Nora', 'Zoe', 'Leila', 'Ana', 'Ruth'];
const MALE = ['James', 'Mohammed', 'Wei', 'Carlos', 'David', 'Liam', 'Noah', 'Arjun', 'Daniel', 'Kwame', 'Jose', 'Ethan',
  'Hiroshi', 'Samuel', 'Omar', 'Lucas', 'Thomas', 'Diego', 'Ivan', 'Peter'];
const LAST = ['Smith', 'Garcia', 'Nguyen', 'Johnson', 'Chen', 'Patel', 'Williams', 'Rodriguez', 'Kim', 'Brown', 'Martinez',
  'Okafor', 'Lee', 'Davis', 'Hernandez', 'Wang', 'Miller', 'Lopez', 'Singh', 'Wilson', 'Cohen', 'Tanaka', 'Haddad',
  'Novak', 'Andersen', 'Mensah', 'Rossi', 'Murphy', 'Silva', 'Khan'];
const HISPANIC_LAST = new Set(['Garcia', 'Rodriguez', 'Martinez', 'Hernandez', 'Lopez', 'Silva']);
const OTHER_LANGUAGES = ['zh', 'vi', 'fr', 'ar', 'hi', 'ko', 'ru', 'tl'];

export interface Organization {
  id: string;
  timezone: string;
  weight: number;
  row: Row;
}

export function makeOrganization(rng: Random, index: number, key: string): Organization {
  const id = rng.uuid();
  const place = PLACES[index % PLACES.length];
  const type = index % 3 === 1 ? 'hospital' : 'clinic';
  const base = type === 'hospital' ? rng.pick(HOSPITAL_NAMES) : rng.pick(CLINIC_NAMES);
  const round = Math.floor(index / PLACES.length);
  const name = `${place.city} ${base}${round > 0 ? ` ${round + 1}` : ''}`;
  const slug = `${place.city}-${type}-${index + 1}`.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  const created = EPOCH - (1100 + rng.int(0, 700)) * DAY_MS;
  return {
    id,
    timezone: place.timezone,
    weight: type === 'hospital' ? 3 : 1,
    row: {
      id,
      name,
      type,
      email: `contact@${slug}.${key}.demo.medilens.example`,
      phone: `+1-555-${String(rng.int(100, 999))}-${String(rng.int(1000, 9999))}`,
      address: JSON.stringify({
        line: [`${rng.int(10, 9999)} ${rng.pick(STREETS)}`],
        city: place.city,
        state: place.state,
        postalCode: place.postalCode,
        country: 'US',
      }),
      settings: JSON.stringify({ timezone: place.timezone, demo: true }),
      is_active: true,
      subscription_tier: type === 'hospital' ? 'enterprise' : rng.pick(['free', 'professional', 'professional']),
      created_at: iso(created),
      updated_at: iso(created),
    },
  };
}

export interface Patient {
  id: string;
  organizationId: string;
  /** Registration time (ms); every assessment comes later. */
  createdMs: number;
  fitzpatrickType: number;
  /** Users registered by a hospital have no app account (no Clerk id, email or username). */
  appUser: boolean;
  user: Row;
  profile: Row;
}

export function makePatient(rng: Random, index: number, key: string, org: Organization): Patient {
  const id = rng.uuid();
  const gender = rng.weighted([['female', 52], ['male', 47], ['other', 1]] as const);
  const first = gender === 'male' ? rng.pick(MALE) : gender === 'female' ? rng.pick(FEMALE) : rng.pick([...FEMALE, ...MALE]);
  const last = rng.pick(LAST);
  const hispanic = HISPANIC_LAST.has(last) ? rng.chance(0.85) : rng.chance(0.06);
  // Age as of EPOCH (the profile's last update), and a birth date that gives exactly that age then.
  const age = Math.round(clamp(56 + 15 * rng.normal(), 18, 95));
  const born = Date.UTC(2025 - age, 0, 2) + rng.int(0, 364) * DAY_MS;
  const createdMs = EPOCH - rng.int(60, 760) * DAY_MS - rng.int(0, DAY_MS / 1000 - 1) * 1000;
  const appUser = rng.chance(0.8);
  const local = `${first}.${last}.${key}.p${index}`.toLowerCase();
  const fitzpatrickType = hispanic
    ? rng.weighted([[2, 10], [3, 40], [4, 35], [5, 15]] as const)
    : rng.weighted([[1, 10], [2, 25], [3, 25], [4, 18], [5, 12], [6, 10]] as const);
  const clerk = appUser ? `user_${rng.token(24)}` : null;
  return {
    id,
    organizationId: org.id,
    createdMs,
    fitzpatrickType,
    appUser,
    user: {
      id,
      clerk_user_id: clerk,
      email: appUser ? `${local}@patients.medilens.example` : null,
      email_verified: appUser && rng.chance(0.9),
      username: appUser ? local : null,
      first_name: first,
      last_name: last,
      date_of_birth: isoDate(born),
      gender,
      organization_id: org.id,
      is_active: rng.chance(0.98),
      is_verified: rng.chance(0.9),
      created_at: iso(createdMs),
      updated_at: iso(createdMs),
      last_login_at: null,
    },
    profile: {
      id: rng.uuid(),
      user_id: id,
      age,
      fitzpatrick_type: fitzpatrickType,
      ethnicity: rng.chance(0.04) ? null : hispanic ? 'Hispanic or Latino' : 'Not Hispanic or Latino',
      language: hispanic && rng.chance(0.45) ? 'es' : rng.chance(0.1) ? rng.pick(OTHER_LANGUAGES) : 'en',
      timezone: rng.chance(0.95) ? org.timezone : rng.pick(PLACES).timezone,
      consent_research: rng.chance(0.4),
      consent_data_sharing: rng.chance(0.6),
      created_at: iso(createdMs),
      updated_at: iso(EPOCH),
    },
  };
}

export interface Clinician {
  id: string;
  organizationId: string;
  user: Row;
  grantedMs: number;
}

export function makeClinician(rng: Random, index: number, key: string, org: Organization): Clinician {
  const id = rng.uuid();
  const gender = rng.chance(0.5) ? 'female' : 'male';
  const first = gender === 'female' ? rng.pick(FEMALE) : rng.pick(MALE);
  const last = rng.pick(LAST);
  const local = `${first}.${last}.${key}.c${index}`.toLowerCase();
  const created = EPOCH - rng.int(780, 1000) * DAY_MS;
  return {
    id,
    organizationId: org.id,
    grantedMs: created + DAY_MS,
    user: {
      id,
      clerk_user_id: `user_${rng.token(24)}`,
      email: `${local}@clinicians.medilens.example`,
      email_verified: true,
      username: local,
      first_name: first,
      last_name: last,
      date_of_birth: isoDate(Date.UTC(rng.int(1960, 1992), 0, 1) + rng.int(0, 364) * DAY_MS),
      gender,
      organization_id: org.id,
      is_active: true,
      is_verified: true,
      created_at: iso(created),
      updated_at: iso(created),
      last_login_at: iso(EPOCH - rng.int(1, 20) * DAY_MS - rng.int(0, 43_199) * 1000),
    },
  };
}
