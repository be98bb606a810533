import { Joi } from './joi';
import {
  auditPiece,
  basePiece,
  databaseAdminPiece,
  databasePiece,
  gatewayPiece,
  identityPiece,
  integrationStatusPiece,
  jwtSignPiece,
  jwtVerifyPiece,
  listenPiece,
  portsPiece,
  rabbitPiece,
  redisPiece,
  secretsKeyPiece,
  ssoPiece,
  serviceTrustPiece,
  webhookPiece,
  workerPiece,
  strandedRetryAfterLongestDelay,
} from './pieces';

type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface BaseConfig {
  NODE_ENV: 'development' | 'test' | 'production';
  LOG_LEVEL: LogLevel;
  SHUTDOWN_TIMEOUT_MS: number;
  TRUST_PROXY: string;
}
export interface ListenConfig { BIND_ADDRESS: string; METRICS_PORT: number; METRICS_BIND_ADDRESS: string }
export interface AuditConfig { AUDIT_CHECKPOINT_KEY: string; AUDIT_CHECKPOINT_PREVIOUS_KEYS?: string }
export interface DatabaseConfig { DATABASE_URL: string; DATABASE_POOL_MAX: number }
export interface DatabaseAdminConfig { DATABASE_ADMIN_URL: string }
export interface RedisConfig { REDIS_URL: string; REDIS_KEY_PREFIX: string }
export interface RabbitConfig {
  /** One node URL, or several comma-separated (see brokerUrls). */
  RABBITMQ_URL: string;
  RABBITMQ_QUORUM_GROUP_SIZE: number;
  RABBITMQ_NAME_PREFIX: string;
  MAX_RETRIES: number;
  RETRY_BACKOFF_BASE: number;
  QUEUE_DELIVERY_LIMIT: number;
}
export interface JwtVerifyConfig {
  JWT_PUBLIC_KEY?: string;
  JWT_ACCEPTED_PUBLIC_KEYS?: string;
  JWT_KEYS_DIR: string;
  JWT_ISSUER: string;
  JWT_AUDIENCE: string;
  TOKEN_STATE_CACHE_SECONDS: number;
}
export interface JwtSignConfig { JWT_PRIVATE_KEY?: string; ACCESS_TOKEN_TTL_SECONDS: number }
export interface IdentityConfigPart {
  BCRYPT_COST: number;
  SUPERADMIN_EMAIL: string;
  SUPERADMIN_PASSWORD: string;
  LOGIN_MAX_FAILURES_PER_ACCOUNT: number;
  LOGIN_MAX_FAILURES_PER_IP: number;
  LOGIN_FAILURE_WINDOW_SECONDS: number;
  INVITE_TTL_HOURS: number;
  ACTIVATION_MAX_FAILURES_PER_IP: number;
}
export interface WebhookConfigPart {
  /** Empty: the platform endpoint is off (404). */
  WEBHOOK_SECRET_USER_SERVICE: string;
  WEBHOOK_SECRET_PAYMENT_SERVICE: string;
  WEBHOOK_SECRET_COMMUNICATION_SERVICE: string;
  WEBHOOK_SIGNATURE_TOLERANCE_SECONDS: number;
  WEBHOOK_MAX_BATCH: number;
  WEBHOOK_MAX_BODY_BYTES: number;
  WEBHOOK_RATE_LIMIT_COUNT: number;
  WEBHOOK_RATE_LIMIT_PERIOD: number | 'second' | 'minute' | 'hour';
  INGEST_LINGER_MS: number;
  INGEST_MAX_BATCH_EVENTS: number;
  OUTBOX_RELAY_INTERVAL_MS: number;
  OUTBOX_RELAY_MIN_AGE_MS: number;
  INTEGRATION_SECRETS_KEY: string;
}
export interface SsoConfigPart {
  SSO_CALLBACK_URL: string;
  /** Comma-separated; '' allows none. */
  SSO_ALLOWED_REDIRECT_URIS: string;
  SSO_ALLOW_PRIVATE_ISSUERS: boolean;
}
export interface WorkerConfigPart {
  WORKER_PREFETCH: number;
  FORCE_SERVICE_FAILURES: number;
  ENABLE_RANDOM_FAILURES: boolean;
  RANDOM_FAILURE_RATE: number;
  STRANDED_RETRY_AFTER_MS: number;
  SIMULATED_PROVIDER_LATENCY_MS: number;
  PROVIDER_TIMEOUT_MS: number;
  BREAKER_ERROR_THRESHOLD_PERCENT: number;
  BREAKER_VOLUME_THRESHOLD: number;
  BREAKER_RESET_TIMEOUT_MS: number;
}
export interface PortsConfig {
  API_GATEWAY_PORT: number;
  IDENTITY_SERVICE_PORT: number;
  WEBHOOK_GATEWAY_PORT: number;
  INTEGRATION_WORKER_PORT: number;
}
export interface GatewayConfigPart {
  IDENTITY_SERVICE_URL: string;
  WEBHOOK_GATEWAY_URL: string;
  INTEGRATION_WORKER_URL: string;
  CORS_ORIGINS: string;
}

/** What every backing-service-connected app shares (readiness checks PostgreSQL, Redis and RabbitMQ). */
export type ServiceConfig = BaseConfig & ListenConfig & AuditConfig & DatabaseConfig & RedisConfig & RabbitConfig & JwtVerifyConfig & PortsConfig;

export type IdentityServiceConfig = ServiceConfig & JwtSignConfig & IdentityConfigPart & SsoConfigPart & { INTEGRATION_SECRETS_KEY: string };
export type WebhookGatewayConfig = ServiceConfig & WebhookConfigPart & { INTEGRATION_STATUS_WINDOW_SECONDS: number };
export type IntegrationWorkerConfig = ServiceConfig & WorkerConfigPart;
export type ApiGatewayConfig = BaseConfig & ListenConfig & PortsConfig & GatewayConfigPart;
export type MigrateConfig = BaseConfig & AuditConfig & DatabaseConfig & DatabaseAdminConfig & Pick<IdentityConfigPart, 'BCRYPT_COST' | 'SUPERADMIN_EMAIL' | 'SUPERADMIN_PASSWORD'>;

const service = {
  ...basePiece,
  ...serviceTrustPiece,
  ...listenPiece('127.0.0.1'),
  ...auditPiece,
  ...databasePiece,
  ...redisPiece,
  ...rabbitPiece,
  ...jwtVerifyPiece,
  ...portsPiece,
};

/** One joi schema per app, assembled from the shared pieces. */
export const configSchemas = {
  'identity-service': Joi.object({ ...service, ...jwtSignPiece, ...identityPiece, ...secretsKeyPiece, ...ssoPiece }),
  'webhook-gateway': Joi.object({ ...service, ...webhookPiece, ...secretsKeyPiece, ...integrationStatusPiece }),
  'integration-worker': Joi.object({ ...service, ...workerPiece }).custom(strandedRetryAfterLongestDelay),
  'api-gateway': Joi.object({ ...basePiece, ...listenPiece('0.0.0.0'), ...portsPiece, ...gatewayPiece }),
  migrate: Joi.object({
    ...basePiece,
    ...serviceTrustPiece,
    ...auditPiece,
    ...databasePiece,
    ...databaseAdminPiece,
    BCRYPT_COST: identityPiece.BCRYPT_COST,
    SUPERADMIN_EMAIL: identityPiece.SUPERADMIN_EMAIL,
    SUPERADMIN_PASSWORD: identityPiece.SUPERADMIN_PASSWORD,
  }),
};
