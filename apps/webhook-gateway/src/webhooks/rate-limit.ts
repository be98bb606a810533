import type { Request, RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit, type ClientRateLimitInfo, type IncrementResponse, type Options, type Store } from 'express-rate-limit';
import type Redis from 'ioredis';
import type { Logger } from 'pino';
import { RedisStore, type RedisReply } from 'rate-limit-redis';
import { TooManyRequestsError } from '@saas/http';

const PERIODS = { second: 1, minute: 60, hour: 3600 } as const;
const STORE_WARNING_INTERVAL_MS = 10000;

export function periodMs(period: number | keyof typeof PERIODS): number {
  return (typeof period === 'number' ? period : PERIODS[period]) * 1000;
}

/**
 * rate-limit-redis, made to survive Redis being down: a failing check is counted (and express-rate-limit lets the
 * request through, `passOnStoreError`). A RedisStore loads its Lua scripts in `init` and keeps the outcome: one whose
 * load failed (Redis down at start), or whose scripts Redis has since forgotten in a way it cannot recover from, would
 * fail for ever. So the store is made on first use, and after any failure the next check makes a new one — the
 * library's own constructor and `init` — and a Redis that was down or restarted is used again as soon as it answers.
 * The checks of one event-loop turn share a pipeline through the client's auto-pipelining (libs/runtime createRedis).
 */
class FailOpenRedisStore implements Store {
  readonly localKeys = false;
  private current: { store: RedisStore; ready: Promise<void> } | undefined;
  private options: Options | undefined;

  constructor(
    private readonly redis: Redis,
    readonly prefix: string,
    private readonly onError: (err: unknown) => void,
  ) {}

  init(options: Options): void {
    this.options = options;
    this.current = undefined;
  }

  /** The store in use, or a new one once its scripts are loaded. */
  private async store(): Promise<RedisStore> {
    if (!this.current) {
      if (!this.options) throw new Error('the rate limit store was used before init');
      const store = new RedisStore({
        prefix: this.prefix,
        sendCommand: (command: string, ...args: string[]) => this.redis.call(command, ...args) as Promise<RedisReply>,
      });
      this.current = { store, ready: store.init(this.options) };
    }
    const { store, ready } = this.current;
    await ready;
    return store;
  }

  private async guard<T>(work: (store: RedisStore) => Promise<T>): Promise<T> {
    try {
      return await work(await this.store());
    } catch (err) {
      this.onError(err);
      this.current = undefined;
      throw err;
    }
  }

  increment(key: string): Promise<IncrementResponse> {
    return this.guard((store) => store.increment(key));
  }

  get(key: string): Promise<ClientRateLimitInfo | undefined> {
    return this.guard((store) => store.get(key));
  }

  decrement(key: string): Promise<void> {
    return this.guard((store) => store.decrement(key));
  }

  resetKey(key: string): Promise<void> {
    return this.guard((store) => store.resetKey(key));
  }
}

export interface WebhookRateLimitOptions {
  redis: Redis;
  /** Shared by every replica: `${REDIS_KEY_PREFIX}rl:webhooks:`. */
  prefix: string;
  limit: number;
  windowMs: number;
  logger: Logger;
  onStoreError: () => void;
  onLimited: () => void;
}

// Senders are few per window; the bound only stops a flood of distinct addresses from growing the map.
const IP_KEY_MEMO_ENTRIES = 10_000;

/**
 * `ipKeyGenerator` parses every IPv6 address (loopback and IPv4-mapped ones included) twice with ip-address: about 4 %
 * of the gateway's CPU per event in a --cpu-prof profile. The key of an address never changes, so it is parsed once.
 */
export function memoizedIpKey(): (req: Request) => string {
  const keys = new Map<string, string>();
  return (req) => {
    const ip = req.ip ?? req.socket.remoteAddress ?? 'unknown';
    let key = keys.get(ip);
    if (key === undefined) {
      if (keys.size >= IP_KEY_MEMO_ENTRIES) keys.clear();
      key = ipKeyGenerator(ip);
      keys.set(ip, key);
    }
    return key;
  };
}

/**
 * Per client IP across all replicas (the Redis store is shared). The IP is Express' `req.ip`: the socket, or the
 * addresses the trusted proxies (TRUST_PROXY: api-gateway's addresses) vouch for — never a header a client controls.
 */
export function webhookRateLimit(options: WebhookRateLimitOptions): RequestHandler {
  let lastWarning = 0;
  return rateLimit({
    windowMs: options.windowMs,
    limit: options.limit,
    standardHeaders: 'draft-6',
    legacyHeaders: false,
    passOnStoreError: true,
    keyGenerator: memoizedIpKey(),
    store: new FailOpenRedisStore(options.redis, options.prefix, (err) => {
      options.onStoreError();
      // Every request fails open while Redis is down: the counter has them all, the log one line per interval.
      if (Date.now() - lastWarning > STORE_WARNING_INTERVAL_MS) {
        lastWarning = Date.now();
        options.logger.warn({ err: (err as Error).message }, 'rate limit store unavailable; failing open');
      }
    }),
    logger: { warn: () => undefined, error: () => undefined },
    handler: (req, _res, next) => {
      options.onLimited();
      const info = (req as unknown as { rateLimit?: { resetTime?: Date } }).rateLimit;
      const seconds = info?.resetTime ? (info.resetTime.getTime() - Date.now()) / 1000 : options.windowMs / 1000;
      next(new TooManyRequestsError(seconds, 'rate_limited', 'Too many webhook requests from this address'));
    },
  });
}
