import type Redis from 'ioredis';
import { readUserTokenState, type Database, type OrgStatus, type Role, type UserStatus } from '@saas/db';

/** What a token is checked against on every request: the user's and the organization's current state. */
export interface UserTokenState {
  status: UserStatus;
  ver: number;
  role: Role;
  org: string | null;
}

const userKey = (prefix: string, userId: string) => `${prefix}auth:user:${userId}`;
const orgKey = (prefix: string, orgId: string) => `${prefix}auth:org:${orgId}`;
const genKey = (stateKey: string) => `${stateKey}:gen`;
/** Generation counters outlive any cached state, so a fill that raced an invalidation is always recognized. */
const GEN_TTL_SECONDS = 86400;

/**
 * Stores a state read from the database only if no invalidation happened since the read began (the generation it
 * saw is still current); otherwise a request that read just before a revocation could cache the revoked state.
 */
const FILL_IF_CURRENT = `
if (redis.call('GET', KEYS[2]) or '') == ARGV[2] then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
  return 1
end
return 0`;

async function bumpGeneration(redis: Redis, stateKey: string): Promise<void> {
  await redis.multi().incr(genKey(stateKey)).expire(genKey(stateKey), GEN_TTL_SECONDS).del(stateKey).exec();
}

/** Call after committing a change to a user's status, role, password or token version. */
export function invalidateTokenState(redis: Redis, prefix: string, userId: string): Promise<void> {
  return bumpGeneration(redis, userKey(prefix, userId));
}

/** Call after committing a change to an organization's status: its members' tokens are checked against it. */
export function invalidateOrgTokenState(redis: Redis, prefix: string, orgId: string): Promise<void> {
  return bumpGeneration(redis, orgKey(prefix, orgId));
}

export interface TokenStateStore {
  /** The user's current state and, for a member, their organization's status; undefined when the user does not exist. */
  load(userId: string, orgClaim: string | null): Promise<{ user: UserTokenState; orgStatus: OrgStatus | null } | undefined>;
}

/**
 * Reads token state from Redis, falling back to the database (and refilling the cache) on a miss. When Redis is
 * unreachable the database answers alone: revocation must never depend on the cache being up.
 */
export function createTokenStateStore(deps: { db: Database; redis: Redis; prefix: string; ttlSeconds: number }): TokenStateStore {
  const { db, redis, prefix, ttlSeconds } = deps;
  return {
    async load(userId, orgClaim) {
      const uKey = userKey(prefix, userId);
      const oKey = orgClaim ? orgKey(prefix, orgClaim) : undefined;
      let cached: (string | null)[] | undefined;
      try {
        cached = await redis.mget(uKey, genKey(uKey), ...(oKey ? [oKey, genKey(oKey)] : []));
      } catch {
        cached = undefined;
      }
      if (cached?.[0] && (!oKey || cached[2])) {
        return { user: JSON.parse(cached[0]) as UserTokenState, orgStatus: oKey ? (cached[2] as OrgStatus) : null };
      }
      const row = await readUserTokenState(db, userId, orgClaim);
      if (!row) return undefined;
      const user: UserTokenState = { status: row.status, ver: row.token_version, role: row.role, org: row.org_id };
      if (cached) {
        const fills = [redis.eval(FILL_IF_CURRENT, 2, uKey, genKey(uKey), JSON.stringify(user), cached[1] ?? '', ttlSeconds)];
        if (oKey && row.org_status && row.org_id === orgClaim) {
          fills.push(redis.eval(FILL_IF_CURRENT, 2, oKey, genKey(oKey), row.org_status, cached[3] ?? '', ttlSeconds));
        }
        await Promise.all(fills).catch(() => undefined);
      }
      return { user, orgStatus: row.org_status };
    },
  };
}
