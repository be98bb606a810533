import { createHash } from 'node:crypto';
import { ipKeyGenerator } from 'express-rate-limit';
import type Redis from 'ioredis';
import { ServiceUnavailableError, TooManyRequestsError } from '@saas/http';

/**
 * Counts an attempt against every key atomically, before the attempt is checked (so parallel attempts cannot slip
 * past a limit), and answers how many seconds remain of the longest window among the keys over their limit (0: none).
 * KEYS: the counters. ARGV: window seconds, then each key's limit.
 */
const RESERVE = `
local retryAfter = 0
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  if count == 1 then redis.call('EXPIRE', key, ARGV[1]) end
  if count > tonumber(ARGV[i + 1]) then retryAfter = math.max(retryAfter, redis.call('TTL', key), 1) end
end
return retryAfter`;

/** Gives back one attempt on keys that still exist (an expired window stays expired). */
const RELEASE = `
for _, key in ipairs(KEYS) do
  if (tonumber(redis.call('GET', key) or '0')) > 0 then redis.call('DECR', key) end
end
return 0`;

/** A failure counter: its Redis key and how many failures it allows within the window. */
interface FailureBudget {
  key: string;
  max: number;
}

/** An attempt counted in advance; a success gives it back, so only failures count. */
export interface ReservedAttempt {
  release(): Promise<void>;
}

interface FailureThrottleOptions {
  redis: Redis;
  windowSeconds: number;
  /** The 429 when a budget is spent, told how long until its window ends. */
  exhausted: (retryAfterSeconds: number) => Error;
  /** The 503 when Redis cannot count: the throttle fails closed, as it could not protect anything without counters. */
  unavailable: () => Error;
}

/** Failures within a window, counted against several budgets at once (e.g. per account and per address). */
function createFailureThrottle(options: FailureThrottleOptions): (budgets: FailureBudget[]) => Promise<ReservedAttempt> {
  const { redis, windowSeconds, exhausted, unavailable } = options;
  return async (budgets) => {
    const keys = budgets.map((budget) => budget.key);
    let retryAfter: number;
    try {
      retryAfter = (await redis.eval(RESERVE, keys.length, ...keys, windowSeconds, ...budgets.map((budget) => budget.max))) as number;
    } catch {
      throw unavailable();
    }
    if (retryAfter > 0) throw exhausted(retryAfter);
    return {
      release: async () => {
        await redis.eval(RELEASE, keys.length, ...keys).catch(() => undefined);
      },
    };
  };
}

/**
 * The counter key of a client address: an IPv6 client by its /64 (the smallest block one subscriber usually gets, so
 * owning one does not mean 2^64 budgets); IPv4, IPv4-mapped IPv6 and anything unparsable by the address itself.
 */
const clientKey = (ip: string) => ipKeyGenerator(ip, 64);

interface ThrottleOptions {
  redis: Redis;
  prefix: string;
  windowSeconds: number;
}

export interface LoginThrottle {
  /** Reserves an attempt; 429 with Retry-After when the account or the address is over its limit; 503 when Redis is down. */
  reserve(email: string, ip: string): Promise<ReservedAttempt>;
}

/**
 * Failed logins per account and per client address within a window (docs/API.md "Rate limits and throttles"; by
 * default 5 and 50 in 15 minutes).
 */
export function createLoginThrottle(options: ThrottleOptions & { maxPerAccount: number; maxPerIp: number }): LoginThrottle {
  const { redis, prefix, maxPerAccount, maxPerIp, windowSeconds } = options;
  const reserve = createFailureThrottle({
    redis,
    windowSeconds,
    exhausted: (retryAfter) => new TooManyRequestsError(retryAfter, 'too_many_login_attempts', 'Too many failed logins, retry later'),
    unavailable: () => new ServiceUnavailableError('login_unavailable', 'Login is temporarily unavailable, retry later'),
  });
  return {
    reserve: (email, ip) =>
      reserve([
        { key: `${prefix}login:account:${createHash('sha256').update(email).digest('hex')}`, max: maxPerAccount },
        { key: `${prefix}login:ip:${clientKey(ip)}`, max: maxPerIp },
      ]),
  };
}

export interface ActivationThrottle {
  /** Reserves an attempt; 429 with Retry-After when the address is over its limit; 503 when Redis is down. */
  reserve(ip: string): Promise<ReservedAttempt>;
}

/** Failed invite activations (unusable tokens) per client address within a window: guessing tokens costs a budget. */
export function createActivationThrottle(options: ThrottleOptions & { maxPerIp: number }): ActivationThrottle {
  const { redis, prefix, maxPerIp, windowSeconds } = options;
  const reserve = createFailureThrottle({
    redis,
    windowSeconds,
    exhausted: (retryAfter) => new TooManyRequestsError(retryAfter, 'too_many_activation_attempts', 'Too many failed activations, retry later'),
    unavailable: () => new ServiceUnavailableError('activation_unavailable', 'Activation is temporarily unavailable, retry later'),
  });
  return { reserve: (ip) => reserve([{ key: `${prefix}activation:ip:${clientKey(ip)}`, max: maxPerIp }]) };
}
