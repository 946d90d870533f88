import { EPOCH } from './people';
import type { Random } from './random';

/**
 * A demo patient's medical history, medications and allergies: the PHI columns of user_profiles, stored
 * encrypted (src/phi). Older patients have more conditions; about one in four has none at all.
 */

export interface MedicalRecord {
  medical_history: { condition: string; code: string; since: string }[];
  medications: { name: string; dose: string; frequency: string }[];
  allergies: string[];
}

/** Conditions with their SNOMED CT code, the age they typically start from, and what treats them. */
const CONDITIONS = [
  { condition: 'Essential hypertension', code: '59621000', from: 35, drug: { name: 'lisinopril', dose: '10 mg', frequency: 'once daily' } },
  { condition: 'Type 2 diabetes mellitus', code: '44054006', from: 35, drug: { name: 'metformin', dose: '500 mg', frequency: 'twice daily' } },
  { condition: 'Hyperlipidemia', code: '55822004', from: 40, drug: { name: 'atorvastatin', dose: '20 mg', frequency: 'once daily' } },
  { condition: 'Asthma', code: '195967001', from: 18, drug: { name: 'albuterol inhaler', dose: '90 mcg', frequency: 'as needed' } },
  { condition: 'Atrial fibrillation', code: '49436004', from: 55, drug: { name: 'apixaban', dose: '5 mg', frequency: 'twice daily' } },
  { condition: 'Hypothyroidism', code: '40930008', from: 30, drug: { name: 'levothyroxine', dose: '50 mcg', frequency: 'once daily' } },
  { condition: 'Glaucoma', code: '23986001', from: 50, drug: { name: 'latanoprost eye drops', dose: '0.005%', frequency: 'once daily' } },
  { condition: 'Migraine', code: '37796009', from: 18, drug: { name: 'sumatriptan', dose: '50 mg', frequency: 'as needed' } },
  { condition: 'Osteoarthritis', code: '396275006', from: 50, drug: { name: 'acetaminophen', dose: '500 mg', frequency: 'as needed' } },
  { condition: 'Chronic obstructive pulmonary disease', code: '13645005', from: 55, drug: { name: 'tiotropium inhaler', dose: '18 mcg', frequency: 'once daily' } },
  { condition: 'Mild cognitive impairment', code: '386805003', from: 65, drug: null },
] as const;

const ALLERGIES = ['penicillin', 'sulfonamides', 'latex', 'peanuts', 'shellfish', 'aspirin', 'codeine', 'bee stings'];

export function makeMedicalRecord(rng: Random, age: number): MedicalRecord {
  const record: MedicalRecord = { medical_history: [], medications: [], allergies: [] };
  const wanted = rng.chance(0.25) ? 0 : rng.int(1, age >= 60 ? 4 : age >= 40 ? 3 : 2);
  const eligible = CONDITIONS.filter((c) => age >= c.from);
  const bornYear = new Date(EPOCH).getUTCFullYear() - age;
  for (let i = 0; i < wanted && eligible.length > 0; i++) {
    const [c] = eligible.splice(rng.int(0, eligible.length - 1), 1);
    record.medical_history.push({ condition: c.condition, code: c.code, since: String(rng.int(Math.min(bornYear + c.from, 2025), 2025)) });
    if (c.drug !== null && rng.chance(0.85)) record.medications.push({ ...c.drug });
  }
  const allergies = rng.weighted([[0, 70], [1, 22], [2, 8]] as const);
  const choices = [...ALLERGIES];
  for (let i = 0; i < allergies; i++) record.allergies.push(choices.splice(rng.int(0, choices.length - 1), 1)[0]);
  return record;
}
