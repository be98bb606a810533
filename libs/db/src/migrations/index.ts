import * as initialSchema from './0001-initial-schema';
import * as rowLevelSecurity from './0002-row-level-security';

/** Listed explicitly (not globbed) so bundled apps carry their migrations. Append only. */
export const migrations = [
  { name: '0001-initial-schema', ...initialSchema },
  { name: '0002-row-level-security', ...rowLevelSecurity },
];
export { TENANT_TABLES } from './0002-row-level-security';
