import type { IntegrationService } from '@saas/messaging';
import { syncCommunications } from './communications';
import { syncSubscription } from './subscriptions';
import { oneByOne, type BatchSyncer } from './types';
import { syncUsers } from './users';

export type { SyncItem, SyncResult } from './types';

export const SYNCERS: Record<IntegrationService, BatchSyncer> = {
  user_service: syncUsers,
  payment_service: oneByOne(syncSubscription),
  communication_service: syncCommunications,
};
