import { bumpTokenVersion, type Transaction } from '@saas/db';

/**
 * Revokes every token issued to the user so far by bumping their token version, inside the caller's transaction.
 * After the commit, the caller clears the cached state: invalidateTokenState(redis, REDIS_KEY_PREFIX, userId) (@saas/auth).
 */
export async function revokeUserTokens(tx: Transaction, userId: string): Promise<void> {
  await bumpTokenVersion(tx, userId);
}
