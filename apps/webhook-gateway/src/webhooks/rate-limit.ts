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

/** No script has this SHA: Redis answers NOSCRIPT, and rate-limit-redis then loads its script and retries. */
const UNLOADED = Promise.resolve('0000000000000000000000000000000000000000');

/**
 * rate-limit-redis, made to survive Redis being down: a failing check is counted (and express-rate-limit lets the
 * request through, `passOnStoreError`). The store's Lua scripts are loaded on first use (NOSCRIPT → load → retry)
 * rather than at start, and again after a failure, so a Redis that was down at start or restarted (losing its
 * script cache) is used again as soon as it answers.
 */
class FailOpenRedisStore implements Store {
  readonly localKeys = false;
  private readonly inner: RedisStore;
  private batch: { args: string[]; resolve: (reply: RedisReply) => void; reject: (err: unknown) => void }[] = [];

  constructor(
    private readonly redis: Redis,
    readonly prefix: string,
    private readonly onError: (err: unknown) => void,
  ) {
    this.inner = new RedisStore({ prefix, sendCommand: (...args: string[]) => this.send(args) });
  }

  /**
   * The checks of the requests handled in one turn of the event loop go to Redis as one pipeline: one socket write
   * and one wake-up instead of one per request (profiling showed that write as the largest single cost of a webhook).
   */
  private send(args: string[]): Promise<RedisReply> {
    return new Promise((resolve, reject) => {
      this.batch.push({ args, resolve, reject });
      if (this.batch.length === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const batch = this.batch;
    this.batch = [];
    const pipeline = this.redis.pipeline();
    for (const { args } of batch) pipeline.call(args[0], ...args.slice(1));
    pipeline.exec().then(
      (results) =>
        batch.forEach((command, i) => {
          const [err, reply] = results?.[i] ?? [new Error('no reply')];
          if (err) command.reject(err);
          else command.resolve(reply as RedisReply);
        }),
      (err) => batch.forEach((command) => command.reject(err)),
    );
  }

  init(options: Options): void {
    this.inner.windowMs = options.windowMs;
    this.forgetScripts();
  }

  private forgetScripts(): void {
    this.inner.incrementScriptSha = UNLOADED;
    this.inner.getScriptSha = UNLOADED;
  }

  private async guard<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      this.onError(err);
      this.forgetScripts();
      throw err;
    }
  }

  increment(key: string): Promise<IncrementResponse> {
    return this.guard(() => this.inner.increment(key));
  }

  get(key: string): Promise<ClientRateLimitInfo | undefined> {
    return this.guard(() => this.inner.get(key));
  }

  decrement(key: string): Promise<void> {
    return this.guard(() => this.inner.decrement(key));
  }

  resetKey(key: string): Promise<void> {
    return this.guard(() => this.inner.resetKey(key));
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
