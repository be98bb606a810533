import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { QueryTypes } from 'sequelize';
import { Database, type Organization } from '@saas/db';
import { createOrg, eventually } from '@saas/testing';
// Services as real processes, signed events: the bench harness (bench/ is no Nx project, so no alias reaches it).
// eslint-disable-next-line @nx/enforce-module-boundaries
import { sampleEvent, signedRequest, startService, webhookSecret, type ServiceName, type ServiceProcess, type WebhookEndpoint } from '../../../bench/lib';

export { sampleEvent, type ServiceProcess };

// One set of provider secrets for the scenario's services and its "providers" (this process).
for (const name of ['WEBHOOK_SECRET_USER_SERVICE', 'WEBHOOK_SECRET_PAYMENT_SERVICE', 'WEBHOOK_SECRET_COMMUNICATION_SERVICE'])
  process.env[name] ??= `whsec_${randomBytes(24).toString('base64')}`;

export const db = new Database({ url: process.env['DATABASE_URL']!, poolMax: 4 });

/** What every service process of a fault scenario starts with: the run's isolated world, fast retries and relay, logs on. */
export function serviceEnv(overrides: Record<string, string> = {}): Record<string, string> {
  const env = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined));
  return {
    ...env,
    LOG_LEVEL: 'info',
    WEBHOOK_RATE_LIMIT_COUNT: '100000000',
    RETRY_BACKOFF_BASE: '0.2',
    OUTBOX_RELAY_INTERVAL_MS: '200',
    OUTBOX_RELAY_MIN_AGE_MS: '1000',
    SHUTDOWN_TIMEOUT_MS: '10000',
    ...overrides,
  };
}

/** Processes a scenario started; `stopAll` in `finally` (processes killed by the scenario are simply gone). */
export class Processes {
  readonly all: ServiceProcess[] = [];
  /** In every log file name: a scenario's processes log to files of their own, not shared with other scenarios'. */
  private readonly id = randomBytes(3).toString('hex');
  async start(name: ServiceName, env: Record<string, string>, instance?: string): Promise<ServiceProcess> {
    const p = await startService(name, { env, instance: instance ? `${this.id}-${instance}` : this.id });
    this.all.push(p);
    return p;
  }
  async stopAll(): Promise<void> {
    await Promise.all(this.all.map((p) => p.stop()));
  }

  /**
   * Requests these processes began to handle and never finished answering, from their access logs (`request aborted`:
   * the response closed before it was complete — a client that left, or a server that cut it).
   */
  abortedRequests(): number {
    let aborted = 0;
    // each file exists: startService opens it before the process starts
    for (const file of new Set(this.all.map((p) => p.logFile))) {
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (!line.includes('request aborted')) continue;
        try {
          if ((JSON.parse(line) as { msg?: string }).msg === 'request aborted') aborted++;
        } catch {
          /* a line cut short by a killed process */
        }
      }
    }
    return aborted;
  }
}

export const newOrg = (): Promise<Organization> => createOrg(db);

/** A fresh entity key per event, unique across runs (emails are unique platform-wide). */
export const entityKey = () => `f${randomBytes(6).toString('hex')}`;

export interface PlannedEvent {
  endpoint: WebhookEndpoint;
  payload: Record<string, unknown>;
}

/** `n` creation events over the three services, one entity each; payment events reference a user created earlier in the stream. */
export function mixedEvents(orgSlug: string, n: number): PlannedEvent[] {
  const events: PlannedEvent[] = [];
  const users: string[] = [];
  for (let i = 0; i < n; i++) {
    const kind = i % 3;
    if (kind === 1 && users.length) {
      // A subscription for an already planned user (its creation may still be in flight: the worker retries it).
      events.push({ endpoint: 'payment-service', payload: sampleEvent('payment-service', { orgSlug, entity: users[users.length - 1]! }) });
      continue;
    }
    const entity = entityKey();
    if (kind === 0) users.push(entity);
    const endpoint: WebhookEndpoint = kind === 2 ? 'communication-service' : 'user-service';
    events.push({ endpoint, payload: sampleEvent(endpoint, { orgSlug, entity }) });
  }
  return events;
}

const agent = new http.Agent({ keepAlive: false });

function post(url: string, body: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, agent, timeout: 30000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

export interface StreamStats {
  /** Event ids settled by a 202 (accepted, or duplicate of an earlier accepted delivery). */
  accepted: Set<string>;
  answers: Record<string, number>;
  /** Connection errors (refused, reset) before an answer: the provider retried them. */
  connectionErrors: number;
  /** Sockets reset after the request was written, without an answer. */
  resets: number;
}

export interface StreamOptions {
  /** Base URLs of the webhook receivers; requests go round-robin. */
  targets: () => string[];
  concurrency?: number;
  /** Events per request: 1 sends single events, more sends `{events: [...]}` batches of one endpoint. */
  batch?: number;
  /** Called after every 202, with the number of events settled so far. */
  onAccepted?: (settled: number) => void;
  /** How long a provider keeps retrying one delivery (default 120 s). */
  retryForMs?: number;
}

/** Consecutive events of one endpoint, at most `size` per delivery. */
function deliveries(events: PlannedEvent[], size: number): PlannedEvent[][] {
  const out: PlannedEvent[][] = [];
  const open = new Map<WebhookEndpoint, PlannedEvent[]>();
  for (const e of events) {
    const chunk = open.get(e.endpoint) ?? [];
    chunk.push(e);
    open.set(e.endpoint, chunk);
    if (chunk.length === size) {
      out.push(chunk);
      open.delete(e.endpoint);
    }
  }
  return [...out, ...open.values()];
}

/**
 * Delivers every event like a provider does: signed, retried (re-signed, same event ids) on 429, 5xx and
 * connection errors until a 202 settles it (`accepted` or `duplicate`). Resolves once every event is settled.
 */
export async function stream(events: PlannedEvent[], options: StreamOptions): Promise<StreamStats> {
  const stats: StreamStats = { accepted: new Set(), answers: {}, connectionErrors: 0, resets: 0 };
  const secrets = new Map<WebhookEndpoint, string>();
  const secret = (e: WebhookEndpoint) => secrets.get(e) ?? secrets.set(e, webhookSecret(process.env, e)).get(e)!;
  const queue = deliveries(events, options.batch ?? 1);
  let next = 0;
  let turn = 0;
  const deliverOne = async (chunk: PlannedEvent[]) => {
    const endpoint = chunk[0]!.endpoint;
    const ids = chunk.map((e) => String(e.payload['event_id']));
    const payload = chunk.length === 1 && (options.batch ?? 1) === 1 ? chunk[0]!.payload : { events: chunk.map((e) => e.payload) };
    const deadline = Date.now() + (options.retryForMs ?? 120000);
    for (let attempt = 0; ; attempt++) {
      const targets = options.targets();
      const base = targets[turn++ % targets.length]!;
      const { body, headers } = signedRequest(secret(endpoint), payload);
      try {
        const answer = await post(`${base}/webhooks/${endpoint}`, body, headers);
        stats.answers[answer.status] = (stats.answers[answer.status] ?? 0) + 1;
        if (answer.status === 202) {
          const parsed = JSON.parse(answer.text) as { results?: { result: string; errors?: unknown }[] };
          const rejected = (parsed.results ?? []).filter((r) => r.result === 'rejected');
          if (rejected.length) throw new Error(`events rejected: ${JSON.stringify(rejected).slice(0, 500)}`);
          for (const id of ids) stats.accepted.add(id);
          options.onAccepted?.(stats.accepted.size);
          return;
        }
        if (answer.status !== 429 && answer.status < 500) throw new Error(`delivery refused: ${answer.status} ${answer.text.slice(0, 500)}`);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ECONNRESET' || (err as Error).message === 'socket hang up') stats.resets++;
        else if (code === 'ECONNREFUSED' || (err as Error).message === 'timeout') stats.connectionErrors++;
        else throw err;
      }
      if (Date.now() > deadline) throw new Error(`events ${ids[0]}… not accepted within the retry window`);
      await delay(Math.min(2000, 50 * 2 ** Math.min(attempt, 6)));
    }
  };
  const worker = async () => {
    while (next < queue.length) await deliverOne(queue[next++]!);
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 16 }, worker));
  return stats;
}

export interface EventOutcome {
  event_id: string;
  status: string;
  /** integration.*.synced audit entries naming this webhook event: the sync's effect, committed with it. */
  effects: number;
}

export async function outcomes(orgId: string): Promise<EventOutcome[]> {
  return db.asSystem('fault assertion', (transaction) =>
    db.sequelize.query<EventOutcome>(
      `WITH fx AS (
         SELECT metadata->>'webhook_event_id' AS id, count(*)::int AS n FROM audit_logs
         WHERE org_id = $1 AND action LIKE 'integration.%.synced' GROUP BY 1)
       SELECT e.event_id, e.status, coalesce(fx.n, 0) AS effects
       FROM webhook_events e LEFT JOIN fx ON fx.id = e.id::text WHERE e.org_id = $1`,
      { bind: [orgId], type: QueryTypes.SELECT, transaction },
    ),
  );
}

export async function domainRows(orgId: string): Promise<{ users: number; subscriptions: number; messages: number }> {
  return db.asSystem('fault assertion', async (transaction) => {
    const count = async (sql: string) =>
      ((await db.sequelize.query<{ n: number }>(sql, { bind: [orgId], type: QueryTypes.SELECT, transaction })) as { n: number }[])[0]!.n;
    return {
      users: await count("SELECT count(*)::int AS n FROM users WHERE org_id = $1 AND external_id LIKE 'ext_%'"),
      subscriptions: await count('SELECT count(*)::int AS n FROM subscriptions WHERE org_id = $1'),
      messages: await count('SELECT count(*)::int AS n FROM communication_logs WHERE org_id = $1'),
    };
  });
}

export interface ExactlyOnce {
  accepted: number;
  stored: number;
  processed: number;
  skipped: number;
  /** Accepted events with no row, not finished in time, or finished without their effect. */
  lost: string[];
  /** Events whose effect was applied more than once (or applied although skipped). */
  twice: string[];
}

const FINISHED = new Set(['processed', 'skipped']);

/**
 * Waits until every accepted event is finished (processed, or skipped as older than the data), then counts: one
 * row per accepted event, exactly one sync effect per processed event and none for a skipped one.
 */
export async function settleAndCount(orgId: string, accepted: Set<string>, timeoutMs = 300000): Promise<ExactlyOnce> {
  let rows: EventOutcome[] = [];
  const mine = () => rows.filter((r) => accepted.has(r.event_id));
  await eventually(
    async () => {
      rows = await outcomes(orgId);
      return mine().length >= accepted.size && mine().every((r) => FINISHED.has(r.status));
    },
    timeoutMs,
    1000,
  ).catch(() => undefined);
  const byId = new Map(rows.map((r) => [r.event_id, r]));
  return {
    accepted: accepted.size,
    stored: mine().length,
    processed: rows.filter((r) => r.status === 'processed').length,
    skipped: rows.filter((r) => r.status === 'skipped').length,
    lost: [...accepted]
      .filter((id) => {
        const row = byId.get(id);
        return !row || !FINISHED.has(row.status) || (row.status === 'processed' && row.effects === 0);
      })
      .map((id) => `${id} (${byId.get(id)?.status ?? 'no row'}, ${byId.get(id)?.effects ?? 0} effects)`),
    twice: rows.filter((r) => r.effects > 1 || (r.status === 'skipped' && r.effects > 0)).map((r) => r.event_id),
  };
}

/** The figure a scenario asserts: nothing lost, nothing applied twice, every accepted event stored once. */
export const verdict = (r: ExactlyOnce) => ({ lost: r.lost.slice(0, 5), twice: r.twice.slice(0, 5), stored: r.stored });

/** Prometheus counter value (summed over label sets) from a service's metrics listener. */
export async function metricValue(service: ServiceProcess, name: string): Promise<number> {
  const text = await (await fetch(`${service.metricsUrl}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

/**
 * A TCP proxy in front of a shared backing service, so a scenario can take "it" down for its own processes only
 * (closing the listener and every connection) without touching what other test runs use.
 */
export class CuttableProxy {
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async up(): Promise<void> {
    if (this.server) return;
    this.server = net.createServer((client) => {
      const upstream = net.connect(this.targetPort, this.targetHost);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  async down(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    if (this.server) await new Promise((resolve) => this.server!.close(resolve));
    this.server = undefined;
  }
}

/** Runs a shell command of STACK.md (restart a shared backing service). */
export function sh(command: string, args: string[]): void {
  execFileSync(command, args, { stdio: 'inherit', timeout: 120000 });
}
