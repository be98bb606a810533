import type { IntegrationService } from '@saas/messaging';
import { syncCommunication } from './communications';
import { syncSubscription } from './subscriptions';
import type { Syncer } from './types';
import { syncUser } from './users';

export type { SyncResult } from './types';

export const SYNCERS: Record<IntegrationService, Syncer> = {
  user_service: syncUser,
  payment_service: syncSubscription,
  communication_service: syncCommunication,
};
