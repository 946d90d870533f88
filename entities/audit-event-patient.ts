import { Entity, PrimaryColumn } from 'typeorm';

/**
 * Which audit events name which patient: audit_events.patients as a btree-searchable table, so that
 * AuditEvent?patient= is an index lookup under row-level security (array containment is not leakproof
 * and cannot use an index there). Written only by the audit_events_index_patients trigger; partitioned
 * by month like audit_events (the AuditTrail migration) and archived with it.
 */
@Entity({ name: 'audit_event_patients' })
export class AuditEventPatient {
  @PrimaryColumn({ name: 'patient_id', type: 'uuid', primaryKeyConstraintName: 'audit_event_patients_pkey' })
  patientId: string;

  @PrimaryColumn({ name: 'created_at', type: 'timestamptz', primaryKeyConstraintName: 'audit_event_patients_pkey' })
  createdAt: Date;

  @PrimaryColumn({ name: 'event_id', type: 'uuid', primaryKeyConstraintName: 'audit_event_patients_pkey' })
  eventId: string;
}
