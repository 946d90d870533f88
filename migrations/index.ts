import { CoreSchema1767225600000 } from './1767225600000-CoreSchema';
import { Triggers1767225600001 } from './1767225600001-Triggers';
import { AccessLogPartitions1767225600002 } from './1767225600002-AccessLogPartitions';
import { Analytics1767225600003 } from './1767225600003-Analytics';
import { RowLevelSecurity1767225600004 } from './1767225600004-RowLevelSecurity';
import { AuthorizationServer1767225600005 } from './1767225600005-AuthorizationServer';
import { ResourceVersions1767225600006 } from './1767225600006-ResourceVersions';
import { PatientWrites1767225600007 } from './1767225600007-PatientWrites';
import { AuditTrail1767225600008 } from './1767225600008-AuditTrail';

/** In order. The gateway, the CLI and ormconfig.ts all run exactly this list. */
export const migrations = [
  CoreSchema1767225600000,
  Triggers1767225600001,
  AccessLogPartitions1767225600002,
  Analytics1767225600003,
  RowLevelSecurity1767225600004,
  AuthorizationServer1767225600005,
  ResourceVersions1767225600006,
  PatientWrites1767225600007,
  AuditTrail1767225600008,
];
