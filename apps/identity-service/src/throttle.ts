import { createHash } from 'node:crypto';
import type Redis from 'ioredis';
import { ServiceUnavailableError, TooManyRequestsError } from '@saas/http';

export interface LoginThrottleOptions {
  redis: Redis;
  prefix: string;
  maxPerAccount: number;
  maxPerIp: number;
  windowSeconds: number;
}

/**
 * Counts an attempt against the account and the address atomically, before the password is checked (so parallel
 * guesses cannot slip past the limit), and answers whether either is over its limit (and for how long).
 * KEYS: account, ip. ARGV: window seconds.
 */
const RESERVE = `
local results = {}
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  if count == 1 then redis.call('EXPIRE', key, ARGV[1]) end
  results[i] = { count, redis.call('TTL', key) }
end
return results`;

/** Gives back one attempt on keys that still exist (an expired window stays expired). */
const RELEASE = `
for _, key in ipairs(KEYS) do
  if (tonumber(redis.call('GET', key) or '0')) > 0 then redis.call('DECR', key) end
end
return 0`;

export interface LoginThrottle {
  /** Reserves an attempt; 429 with Retry-After when the account or the address is over its limit; 503 when Redis is down. */
  reserve(email: string, ip: string): Promise<{ release(): Promise<void> }>;
}

/** Failed logins per account and per client address within a window (DESIGN §3: 5 and 50 in 15 minutes by default). */
export function createLoginThrottle(options: LoginThrottleOptions): LoginThrottle {
  const { redis, prefix, maxPerAccount, maxPerIp, windowSeconds } = options;
  const accountKey = (email: string) => `${prefix}login:account:${createHash('sha256').update(email).digest('hex')}`;
  const ipKey = (ip: string) => `${prefix}login:ip:${ip}`;
  return {
    async reserve(email, ip) {
      const keys = [accountKey(email), ipKey(ip)];
      let counts: [number, number][];
      try {
        counts = (await redis.eval(RESERVE, keys.length, ...keys, windowSeconds)) as [number, number][];
      } catch {
        // Fail closed: without its counters the throttle cannot protect accounts.
        throw new ServiceUnavailableError('login_unavailable', 'Login is temporarily unavailable, retry later');
      }
      const [[account, accountTtl], [perIp, ipTtl]] = counts as [[number, number], [number, number]];
      const over = [account > maxPerAccount ? accountTtl : 0, perIp > maxPerIp ? ipTtl : 0].filter((ttl) => ttl !== 0);
      if (over.length) throw new TooManyRequestsError(Math.max(...over, 1), 'too_many_login_attempts', 'Too many failed logins, retry later');
      return {
        // A successful login gives its reserved attempt back: only failures count.
        release: async () => {
          await redis.eval(RELEASE, keys.length, ...keys).catch(() => undefined);
        },
      };
    },
  };
}
