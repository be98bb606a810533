import type { CustomHelpers } from 'joi';
import { Joi } from './joi';

/**
 * Development defaults that make `npm start` work on a fresh machine. With NODE_ENV=production each of
 * these variables must be set explicitly and must differ from the development value.
 */
export const DEV_SECRETS = {
  SUPERADMIN_PASSWORD: 'ChangeMe-Superadmin-1',
  WEBHOOK_SECRET_USER_SERVICE: 'whsec_ZGV2LXVzZXItc2VydmljZS1zZWNyZXQtMDEyMzQ1Njc4OQ==',
  WEBHOOK_SECRET_PAYMENT_SERVICE: 'whsec_ZGV2LXBheW1lbnQtc2VydmljZS1zZWNyZXQtMDEyMzQ1Ng==',
  WEBHOOK_SECRET_COMMUNICATION_SERVICE: 'whsec_ZGV2LWNvbW11bmljYXRpb24tc2VydmljZS1zZWNyZXQtMA==',
  // 32 bytes, base64: the AES-256-GCM key of integration source secrets
  INTEGRATION_SECRETS_KEY: 'ZGV2LWludGVncmF0aW9uLXNlY3JldHMta2V5LTAxMjM=',
  // 32 bytes, base64: the HMAC key of audit checkpoints
  AUDIT_CHECKPOINT_KEY: 'ZGV2LWF1ZGl0LWNoZWNrcG9pbnQta2V5LTAxMjM0NTY=',
} as const;

/** Passwords of the development backing services (docker-compose, .env.template): production refuses them. */
const DEV_PASSWORDS = { database: 'saas_app_dev', broker: 'guest' } as const;

/**
 * Variables whose empty value means "off" rather than "not set": an empty WEBHOOK_SECRET_* disables that platform
 * endpoint (404), in production too; unset, the development default applies (production requires a value).
 */
export const EMPTY_MEANS_OFF = ['WEBHOOK_SECRET_USER_SERVICE', 'WEBHOOK_SECRET_PAYMENT_SERVICE', 'WEBHOOK_SECRET_COMMUNICATION_SERVICE'] as const;

const isProduction = Joi.ref('NODE_ENV');

/** A secret with a development default that production refuses. */
function devSecret(name: keyof typeof DEV_SECRETS, base = Joi.string()) {
  return Joi.when(isProduction, {
    is: 'production',
    then: base.invalid(DEV_SECRETS[name]).required().messages({ 'any.invalid': 'must not be the development default in production' }),
    otherwise: base.default(DEV_SECRETS[name]),
  });
}

/** `base`, plus a check that only production applies: `refusal` names what is wrong with a value, or returns undefined. */
function refusedInProduction(base: Joi.StringSchema, refusal: (value: string) => string | undefined) {
  const refuse = base.custom((value: string, helpers) => {
    const reason = refusal(value);
    return reason ? helpers.message({ custom: reason }) : value;
  });
  return Joi.when(isProduction, { is: 'production', then: refuse, otherwise: base });
}

/** The password of a URL, decoded; '' when it has none. */
const passwordOf = (url: string) => {
  try {
    return decodeURIComponent(new URL(url).password);
  } catch {
    return '';
  }
};

const port = (dflt: number) => Joi.number().port().default(dflt);
const postgresUrl = Joi.string().uri({ scheme: ['postgres', 'postgresql'] });
const address = Joi.string().ip({ cidr: 'forbidden' });

/** `false`, `true`, a hop count, or a comma-separated list of addresses/subnets/names for Express' `trust proxy`. */
const trustProxy = (dflt: string) =>
  Joi.string()
    .pattern(/^(false|true|\d+|[\w.:/,\s-]+)$/)
    .default(dflt);

/**
 * Behind api-gateway: `false`, or the addresses/subnets (or Express' names `loopback`, `linklocal`, `uniquelocal`) of
 * api-gateway, never `true` or a hop count, which would trust whoever connects directly.
 */
const trustGatewayOnly = Joi.string()
  .pattern(/^(false|[\w.:/,\s-]+)$/)
  .custom((value: string, helpers) => (value === 'true' || /^\s*\d+\s*$/.test(value) ? helpers.error('trust.anyone') : value))
  .messages({ 'trust.anyone': '{{#label}} must name api-gateway\'s addresses (e.g. loopback, 10.0.0.0/8), not `true` or a hop count: those trust any peer' })
  .default('loopback');

export const basePiece = {
  NODE_ENV: Joi.string().valid('development', 'test', 'production').default('development'),
  LOG_LEVEL: Joi.string().valid('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent').default('info'),
  SHUTDOWN_TIMEOUT_MS: Joi.number().integer().min(0).default(10000),
};

export const databasePiece = {
  DATABASE_URL: refusedInProduction(postgresUrl, (url) =>
    ['', DEV_PASSWORDS.database].includes(passwordOf(url)) ? 'must carry a password other than the development one in production' : undefined,
  ).default('postgres://saas_app:saas_app_dev@127.0.0.1:5432/saas'),
  DATABASE_POOL_MAX: Joi.number().integer().min(1).max(200).default(10),
};

export const databaseAdminPiece = {
  DATABASE_ADMIN_URL: postgresUrl.default('postgres://postgres@127.0.0.1:5432/saas'),
};

export const redisPiece = {
  // development Redis has no password: production requires one (redis://:PASSWORD@host:6379)
  REDIS_URL: refusedInProduction(Joi.string().uri({ scheme: ['redis', 'rediss'] }), (url) =>
    passwordOf(url) === '' ? 'must carry a password in production (redis://:PASSWORD@host:6379)' : undefined,
  ).default('redis://127.0.0.1:6379'),
  REDIS_KEY_PREFIX: Joi.string().max(64).default('saas:'),
};

/** The node URLs of `RABBITMQ_URL` (one, or several comma-separated nodes of one cluster). */
export const brokerUrls = (value: string) => value.split(',').map((url) => url.trim());

/** The vhost an AMQP URL names ('/' when none; amqp-connection-manager and amqplib read it the same way). */
const vhostOf = (url: string) => decodeURIComponent(new URL(url).pathname.slice(1)) || '/';

/**
 * One AMQP URL, or the nodes of one cluster comma-separated (services connect to any and move to another when theirs
 * dies): each an amqp(s) URL, no empty entry, all of one vhost.
 */
const brokerUrlList = Joi.string().custom((value: string, helpers) => {
  const urls = brokerUrls(value);
  if (urls.some((url) => url === '')) return helpers.message({ custom: 'has an empty entry: list the node URLs separated by single commas' });
  for (const url of urls) {
    if (Joi.string().uri({ scheme: ['amqp', 'amqps'] }).validate(url).error) return helpers.message({ custom: `has an entry that is not an amqp:// or amqps:// URL: ${url.replace(/\/\/[^@/]*@/, '//…@')}` });
  }
  if (new Set(urls.map(vhostOf)).size > 1) return helpers.message({ custom: 'names several vhosts: the nodes of one cluster serve the same vhost' });
  return value;
});

export const rabbitPiece = {
  RABBITMQ_URL: refusedInProduction(brokerUrlList, (value) =>
    brokerUrls(value).filter(Boolean).some((url) => ['', DEV_PASSWORDS.broker].includes(passwordOf(url)))
      ? 'must carry a password other than the development one (guest) in production'
      : undefined,
  ).default('amqp://guest:guest@127.0.0.1:5672'),
  // replicas of each quorum queue when it is declared: 3 on a 3-node cluster (a majority survives one node), 1 on one node
  RABBITMQ_QUORUM_GROUP_SIZE: Joi.number().integer().min(1).max(7).default(1),
  RABBITMQ_NAME_PREFIX: Joi.string().pattern(/^[\w.-]*$/).allow('').max(64).default(''),
  MAX_RETRIES: Joi.number().integer().min(0).max(20).default(3),
  RETRY_BACKOFF_BASE: Joi.number().positive().max(3600).default(2),
  QUEUE_DELIVERY_LIMIT: Joi.number().integer().min(1).default(20),
};

export const jwtVerifyPiece = {
  JWT_PUBLIC_KEY: Joi.string().pattern(/-----BEGIN PUBLIC KEY-----/),
  // Key rotation: PEM public keys accepted besides JWT_PUBLIC_KEY (selected by the token's kid), one after another.
  JWT_ACCEPTED_PUBLIC_KEYS: Joi.string().pattern(/^\s*(-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----\s*)+$/),
  JWT_KEYS_DIR: Joi.string().default('.keys'),
  JWT_ISSUER: Joi.string().default('saas-identity'),
  JWT_AUDIENCE: Joi.string().default('saas-api'),
  TOKEN_STATE_CACHE_SECONDS: Joi.number().integer().min(1).max(3600).default(300),
};

export const jwtSignPiece = {
  JWT_PRIVATE_KEY: Joi.string().pattern(/-----BEGIN (RSA |EC )?PRIVATE KEY-----/),
  ACCESS_TOKEN_TTL_SECONDS: Joi.number().integer().min(30).max(86400).default(900),
};

export const identityPiece = {
  BCRYPT_COST: Joi.number().integer().min(4).max(15).default(12),
  SUPERADMIN_EMAIL: Joi.string().email({ tlds: false }).lowercase().default('superadmin@example.com'),
  SUPERADMIN_PASSWORD: devSecret('SUPERADMIN_PASSWORD', Joi.string().min(8).max(72)),
  LOGIN_MAX_FAILURES_PER_ACCOUNT: Joi.number().integer().min(1).default(5),
  LOGIN_MAX_FAILURES_PER_IP: Joi.number().integer().min(1).default(50),
  LOGIN_FAILURE_WINDOW_SECONDS: Joi.number().integer().min(1).default(900),
  INVITE_TTL_HOURS: Joi.number().positive().default(72),
  // failed activations (unknown, used or expired invite tokens) per client address within LOGIN_FAILURE_WINDOW_SECONDS
  ACTIVATION_MAX_FAILURES_PER_IP: Joi.number().integer().min(1).default(20),
};

const MIN_WEBHOOK_KEY_BYTES = 24;

/** Platform webhook secrets: in production, no development secret anywhere in a rotation list and no key under 24 bytes. */
function webhookSecret(name: 'WEBHOOK_SECRET_USER_SERVICE' | 'WEBHOOK_SECRET_PAYMENT_SERVICE' | 'WEBHOOK_SECRET_COMMUNICATION_SERVICE') {
  const base = Joi.string().pattern(/^whsec_[A-Za-z0-9+/=]+( +whsec_[A-Za-z0-9+/=]+)*$/).allow('');
  const developmentSecrets = new Set<string>(Object.values(DEV_SECRETS));
  return Joi.when(isProduction, {
    is: 'production',
    then: base
      .required()
      .custom((value: string, helpers) => {
        const secrets = value.trim().split(/\s+/).filter(Boolean);
        if (secrets.some((secret) => developmentSecrets.has(secret))) return helpers.message({ custom: 'must not contain a development secret in production' });
        const short = secrets.some((secret) => Buffer.from(secret.slice('whsec_'.length), 'base64').length < MIN_WEBHOOK_KEY_BYTES);
        return short ? helpers.message({ custom: `must decode to at least ${MIN_WEBHOOK_KEY_BYTES} bytes per secret in production` }) : value;
      }),
    otherwise: base.default(DEV_SECRETS[name]),
  });
}

/** 32 bytes, base64 (`openssl rand -base64 32`). */
const aesKey = Joi.string()
  .base64()
  .custom((value: string, helpers) => (Buffer.from(value, 'base64').length === 32 ? value : helpers.error('key.length')))
  .messages({ 'key.length': '{{#label}} must be 32 bytes, base64-encoded (openssl rand -base64 32)' });

/** The key of secrets stored encrypted (integration sources). */
export const secretsKeyPiece = {
  INTEGRATION_SECRETS_KEY: devSecret('INTEGRATION_SECRETS_KEY', aesKey),
};

/** Base64 keys of at least 32 bytes, space-separated. */
const hmacKeys = Joi.string()
  .custom((value: string, helpers) =>
    value.trim().split(/\s+/).every((key) => /^[A-Za-z0-9+/]+={0,2}$/.test(key) && Buffer.from(key, 'base64').length >= 32) ? value : helpers.error('key.length'),
  )
  .messages({ 'key.length': '{{#label}} must be base64 keys of at least 32 bytes (openssl rand -base64 32), space-separated' });

/**
 * Keyed audit checkpoints: every appended batch of an organization's audit chain is MACed with AUDIT_CHECKPOINT_KEY
 * (a key the database role never sees); AUDIT_CHECKPOINT_PREVIOUS_KEYS still verify checkpoints made before a rotation.
 */
export const auditPiece = {
  AUDIT_CHECKPOINT_KEY: devSecret('AUDIT_CHECKPOINT_KEY', hmacKeys),
  AUDIT_CHECKPOINT_PREVIOUS_KEYS: hmacKeys,
};

/**
 * Listen addresses. A service (behind api-gateway) listens on loopback unless told otherwise; deployments set
 * 0.0.0.0 (its pod) with NetworkPolicies admitting api-gateway only. /metrics has a listener of its own, never public:
 * api-gateway on METRICS_PORT, identity-service, webhook-gateway and integration-worker on METRICS_PORT + 1, + 2, + 3.
 */
export const listenPiece = (bindDefault: string) => ({
  BIND_ADDRESS: address.default(bindDefault),
  METRICS_PORT: port(9100),
  METRICS_BIND_ADDRESS: address.default('127.0.0.1'),
});

export const webhookPiece = {
  WEBHOOK_SECRET_USER_SERVICE: webhookSecret('WEBHOOK_SECRET_USER_SERVICE'),
  WEBHOOK_SECRET_PAYMENT_SERVICE: webhookSecret('WEBHOOK_SECRET_PAYMENT_SERVICE'),
  WEBHOOK_SECRET_COMMUNICATION_SERVICE: webhookSecret('WEBHOOK_SECRET_COMMUNICATION_SERVICE'),
  WEBHOOK_SIGNATURE_TOLERANCE_SECONDS: Joi.number().integer().min(1).default(300),
  WEBHOOK_MAX_BATCH: Joi.number().integer().min(1).max(10000).default(500),
  WEBHOOK_MAX_BODY_BYTES: Joi.number().integer().min(1024).default(1048576),
  WEBHOOK_RATE_LIMIT_COUNT: Joi.number().integer().min(1).default(6000),
  WEBHOOK_RATE_LIMIT_PERIOD: Joi.alternatives(Joi.number().integer().min(1), Joi.string().valid('second', 'minute', 'hour')).default('minute'),
  INGEST_LINGER_MS: Joi.number().min(0).max(1000).default(2),
  INGEST_MAX_BATCH_EVENTS: Joi.number().integer().min(1).max(10000).default(1000),
  OUTBOX_RELAY_INTERVAL_MS: Joi.number().integer().min(50).default(1000),
  OUTBOX_RELAY_MIN_AGE_MS: Joi.number().integer().min(0).default(5000),
};

export const workerPiece = {
  // Deliveries held while a group commits are read meanwhile and form the next group (acks wait for the commit):
  // bench/worker drained a one-organization backlog 1.2–1.4× faster with 100 than with 20.
  WORKER_PREFETCH: Joi.number().integer().min(1).max(1000).default(100),
  FORCE_SERVICE_FAILURES: Joi.number().integer().min(0).default(0),
  ENABLE_RANDOM_FAILURES: Joi.boolean().default(false),
  // a `retrying` event with no newer attempt for this long had its retry lost by the broker: the worker republishes it
  STRANDED_RETRY_AFTER_MS: Joi.number().integer().min(1000).default(300000),
  RANDOM_FAILURE_RATE: Joi.number().min(0).max(1).default(0.5),
  SIMULATED_PROVIDER_LATENCY_MS: Joi.number().integer().min(0).default(0),
  PROVIDER_TIMEOUT_MS: Joi.number().integer().min(1).default(5000),
  BREAKER_ERROR_THRESHOLD_PERCENT: Joi.number().min(1).max(100).default(50),
  BREAKER_VOLUME_THRESHOLD: Joi.number().integer().min(1).default(10),
  BREAKER_RESET_TIMEOUT_MS: Joi.number().integer().min(100).default(30000),
};

/** Single sign-on (OIDC) per organization: where the IdP sends users back, and where browser apps may be sent after. */
export const ssoPiece = {
  SSO_CALLBACK_URL: Joi.string().uri({ scheme: ['http', 'https'] }).default('http://localhost:8000/auth/sso/callback'),
  SSO_ALLOWED_REDIRECT_URIS: Joi.string()
    .allow('')
    .custom((value: string, helpers) =>
      value
        .split(',')
        .map((uri) => uri.trim())
        .filter(Boolean)
        .every((uri) => !Joi.string().uri({ scheme: ['http', 'https'] }).validate(uri).error)
        ? value
        : helpers.message({ custom: 'must be absolute http(s) URIs, comma-separated' }),
    )
    .default(''),
  SSO_ALLOW_PRIVATE_ISSUERS: Joi.boolean().default(false),
};

export const integrationStatusPiece = {
  INTEGRATION_STATUS_WINDOW_SECONDS: Joi.number().integer().min(1).default(900),
};

export const portsPiece = {
  API_GATEWAY_PORT: port(8000),
  IDENTITY_SERVICE_PORT: port(3001),
  WEBHOOK_GATEWAY_PORT: port(3002),
  INTEGRATION_WORKER_PORT: port(3003),
};

export const gatewayPiece = {
  IDENTITY_SERVICE_URL: Joi.string().uri({ scheme: ['http', 'https'] }).default('http://127.0.0.1:3001'),
  WEBHOOK_GATEWAY_URL: Joi.string().uri({ scheme: ['http', 'https'] }).default('http://127.0.0.1:3002'),
  INTEGRATION_WORKER_URL: Joi.string().uri({ scheme: ['http', 'https'] }).default('http://127.0.0.1:3003'),
  CORS_ORIGINS: Joi.string().allow('').default(''),
  TRUST_PROXY: trustProxy('false'),
};

/** Services sit behind api-gateway: they trust forwarded headers from its addresses only. */
export const serviceTrustPiece = {
  TRUST_PROXY: trustGatewayOnly,
};

/** Retry n (1-based) waits RETRY_BACKOFF_BASE × 2^(n−1) seconds, in whole milliseconds (the delay queues' TTLs). */
export function retryDelayMs(base: number, retry: number): number {
  return Math.max(1, Math.round(base * 1000 * 2 ** (retry - 1)));
}

/**
 * A retry waits its delay in the broker before its attempt, so an event may only count as stranded once the longest
 * delay of the ladder has passed (with a margin for the queue the retry joins after it).
 */
export function strandedRetryAfterLongestDelay(value: { STRANDED_RETRY_AFTER_MS: number; MAX_RETRIES: number; RETRY_BACKOFF_BASE: number }, helpers: CustomHelpers) {
  if (value.MAX_RETRIES === 0) return value;
  const longest = retryDelayMs(value.RETRY_BACKOFF_BASE, value.MAX_RETRIES);
  return value.STRANDED_RETRY_AFTER_MS > 2 * longest
    ? value
    : helpers.message({ custom: `STRANDED_RETRY_AFTER_MS must exceed twice the longest retry delay (RETRY_BACKOFF_BASE × 2^(MAX_RETRIES−1) = ${longest} ms)` });
}
