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
} as const;

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

const port = (dflt: number) => Joi.number().port().default(dflt);
const postgresUrl = Joi.string().uri({ scheme: ['postgres', 'postgresql'] });

/** `false`, `true`, a hop count, or a comma-separated list of addresses/subnets/names for Express' `trust proxy`. */
const trustProxy = (dflt: string) =>
  Joi.string()
    .pattern(/^(false|true|\d+|[\w.:/,\s-]+)$/)
    .default(dflt);

export const basePiece = {
  NODE_ENV: Joi.string().valid('development', 'test', 'production').default('development'),
  LOG_LEVEL: Joi.string().valid('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent').default('info'),
  SHUTDOWN_TIMEOUT_MS: Joi.number().integer().min(0).default(10000),
};

export const databasePiece = {
  DATABASE_URL: postgresUrl.default('postgres://saas_app:saas_app_dev@127.0.0.1:5432/saas'),
  DATABASE_POOL_MAX: Joi.number().integer().min(1).max(200).default(10),
};

export const databaseAdminPiece = {
  DATABASE_ADMIN_URL: postgresUrl.default('postgres://postgres@127.0.0.1:5432/saas'),
};

export const redisPiece = {
  REDIS_URL: Joi.string().uri({ scheme: ['redis', 'rediss'] }).default('redis://127.0.0.1:6379'),
  REDIS_KEY_PREFIX: Joi.string().max(64).default('saas:'),
};

export const rabbitPiece = {
  RABBITMQ_URL: Joi.string().uri({ scheme: ['amqp', 'amqps'] }).default('amqp://guest:guest@127.0.0.1:5672'),
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

const webhookSecret = Joi.string().pattern(/^whsec_[A-Za-z0-9+/=]+( +whsec_[A-Za-z0-9+/=]+)*$/).allow('');

/** 32 bytes, base64 (`openssl rand -base64 32`). */
const aesKey = Joi.string()
  .base64()
  .custom((value: string, helpers) => (Buffer.from(value, 'base64').length === 32 ? value : helpers.error('key.length')))
  .messages({ 'key.length': '{{#label}} must be 32 bytes, base64-encoded (openssl rand -base64 32)' });

/** The key of secrets stored encrypted (integration sources). */
export const secretsKeyPiece = {
  INTEGRATION_SECRETS_KEY: devSecret('INTEGRATION_SECRETS_KEY', aesKey),
};

export const webhookPiece = {
  WEBHOOK_SECRET_USER_SERVICE: devSecret('WEBHOOK_SECRET_USER_SERVICE', webhookSecret),
  WEBHOOK_SECRET_PAYMENT_SERVICE: devSecret('WEBHOOK_SECRET_PAYMENT_SERVICE', webhookSecret),
  WEBHOOK_SECRET_COMMUNICATION_SERVICE: devSecret('WEBHOOK_SECRET_COMMUNICATION_SERVICE', webhookSecret),
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
  RANDOM_FAILURE_RATE: Joi.number().min(0).max(1).default(0.5),
  SIMULATED_PROVIDER_LATENCY_MS: Joi.number().integer().min(0).default(0),
  PROVIDER_TIMEOUT_MS: Joi.number().integer().min(1).default(5000),
  BREAKER_ERROR_THRESHOLD_PERCENT: Joi.number().min(1).max(100).default(50),
  BREAKER_VOLUME_THRESHOLD: Joi.number().integer().min(1).default(10),
  BREAKER_RESET_TIMEOUT_MS: Joi.number().integer().min(100).default(30000),
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

/** Services sit behind api-gateway: they trust exactly its one hop for the client address. */
export const serviceTrustPiece = {
  TRUST_PROXY: trustProxy('1'),
};
