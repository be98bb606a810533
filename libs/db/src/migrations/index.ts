import * as initialSchema from './0001-initial-schema';
import * as rowLevelSecurity from './0002-row-level-security';
import * as statusAndScaleIndexes from './0003-status-and-scale-indexes';
import * as outboxByLastChange from './0004-outbox-by-last-change';
import * as allOrganizationsViews from './0005-all-organizations-views';
import * as userSearch from './0006-user-search';
import * as narrowOutbox from './0007-narrow-outbox';
import * as emailLookup from './0008-email-lookup';
import * as recipientLookup from './0009-recipient-lookup';
import * as integrationSources from './0010-integration-sources';
import * as auditCheckpoints from './0011-audit-checkpoints';
import * as ssoConnections from './0012-sso-connections';
import * as strandedRetries from './0013-stranded-retries';

/** Listed explicitly (not globbed) so bundled apps carry their migrations. Append only. */
export const migrations = [
  { name: '0001-initial-schema', ...initialSchema },
  { name: '0002-row-level-security', ...rowLevelSecurity },
  { name: '0003-status-and-scale-indexes', ...statusAndScaleIndexes },
  { name: '0004-outbox-by-last-change', ...outboxByLastChange },
  { name: '0005-all-organizations-views', ...allOrganizationsViews },
  { name: '0006-user-search', ...userSearch },
  { name: '0007-narrow-outbox', ...narrowOutbox },
  { name: '0008-email-lookup', ...emailLookup },
  { name: '0009-recipient-lookup', ...recipientLookup },
  { name: '0010-integration-sources', ...integrationSources },
  { name: '0011-audit-checkpoints', ...auditCheckpoints },
  { name: '0012-sso-connections', ...ssoConnections },
  { name: '0013-stranded-retries', ...strandedRetries },
];
export { TENANT_TABLES } from './0002-row-level-security';
