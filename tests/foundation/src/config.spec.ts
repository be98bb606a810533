import { ConfigError, configSchemas, loadConfig } from '@saas/config';
import { spawnTs, waitForExit } from '@saas/testing';

const key = (fill: number) => Buffer.alloc(32, fill).toString('base64');
const whsec = (bytes: number, fill = 1) => `whsec_${Buffer.alloc(bytes, fill).toString('base64')}`;
/** A production environment every service accepts; each test spoils one variable. */
const good = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgres://saas_app:s3cret-db@db:5432/saas',
  REDIS_URL: 'redis://:s3cret-redis@redis:6379',
  RABBITMQ_URL: 'amqp://saas:s3cret-mq@rabbitmq:5672',
  AUDIT_CHECKPOINT_KEY: key(3),
  INTEGRATION_SECRETS_KEY: key(4),
  WEBHOOK_SECRET_USER_SERVICE: whsec(32, 5),
  WEBHOOK_SECRET_PAYMENT_SERVICE: whsec(32, 6),
  WEBHOOK_SECRET_COMMUNICATION_SERVICE: whsec(32, 7),
  SUPERADMIN_PASSWORD: 'a-real-superadmin-password',
};
const problems = (app: keyof typeof configSchemas, env: Record<string, string>) => {
  try {
    loadConfig(configSchemas[app], { ...good, ...env });
    return [];
  } catch (err) {
    return (err as ConfigError).problems;
  }
};

describe('configuration', () => {
  it('when a variable is malformed, then loading fails naming it', () => {
    expect(() => loadConfig(configSchemas['webhook-gateway'], { REDIS_URL: 'not a url', WEBHOOK_MAX_BATCH: 'many' })).toThrow(ConfigError);
    try {
      loadConfig(configSchemas['webhook-gateway'], { REDIS_URL: 'not a url', WEBHOOK_MAX_BATCH: 'many' });
    } catch (err) {
      expect((err as ConfigError).problems).toEqual([expect.stringMatching(/^REDIS_URL: /), expect.stringMatching(/^WEBHOOK_MAX_BATCH: /)]);
    }
  });

  it('when production runs with a development secret or without a required secret, then loading fails naming it', () => {
    expect(() =>
      loadConfig(configSchemas['identity-service'], { NODE_ENV: 'production', SUPERADMIN_PASSWORD: 'ChangeMe-Superadmin-1' }),
    ).toThrow(/SUPERADMIN_PASSWORD: must not be the development default/);
    expect(() => loadConfig(configSchemas['webhook-gateway'], { NODE_ENV: 'production' })).toThrow(/WEBHOOK_SECRET_USER_SERVICE: is required/);
  });

  describe('production refusals', () => {
    it('when every secret and password is a real one, then every app starts', () => {
      for (const app of Object.keys(configSchemas) as (keyof typeof configSchemas)[]) expect(problems(app, {})).toEqual([]);
    });

    it.each([
      ['a development webhook secret inside a rotation list', { WEBHOOK_SECRET_USER_SERVICE: `${whsec(32)} whsec_ZGV2LXVzZXItc2VydmljZS1zZWNyZXQtMDEyMzQ1Njc4OQ==` }, /^WEBHOOK_SECRET_USER_SERVICE: must not contain a development secret/],
      ['a webhook secret of 1 byte', { WEBHOOK_SECRET_PAYMENT_SERVICE: whsec(1) }, /^WEBHOOK_SECRET_PAYMENT_SERVICE: must decode to at least 24 bytes/],
      ['a webhook secret of 23 bytes in a rotation list', { WEBHOOK_SECRET_COMMUNICATION_SERVICE: `${whsec(32)} ${whsec(23)}` }, /^WEBHOOK_SECRET_COMMUNICATION_SERVICE: must decode to at least 24 bytes/],
      ['the development database password', { DATABASE_URL: 'postgres://saas_app:saas_app_dev@db:5432/saas' }, /^DATABASE_URL: must carry a password other than the development one/],
      ['no database password', { DATABASE_URL: 'postgres://saas_app@db:5432/saas' }, /^DATABASE_URL: /],
      ['the development broker password', { RABBITMQ_URL: 'amqp://guest:guest@rabbitmq:5672' }, /^RABBITMQ_URL: must carry a password other than the development one/],
      ['a Redis URL without a password', { REDIS_URL: 'redis://redis:6379' }, /^REDIS_URL: must carry a password/],
      ['no audit checkpoint key', { AUDIT_CHECKPOINT_KEY: '' }, /^AUDIT_CHECKPOINT_KEY: is required/],
      ['the development audit checkpoint key', { AUDIT_CHECKPOINT_KEY: 'ZGV2LWF1ZGl0LWNoZWNrcG9pbnQta2V5LTAxMjM0NTY=' }, /^AUDIT_CHECKPOINT_KEY: must not be the development default/],
      ['a short audit checkpoint key', { AUDIT_CHECKPOINT_KEY: Buffer.alloc(16).toString('base64') }, /^AUDIT_CHECKPOINT_KEY: must be base64 keys of at least 32 bytes/],
    ])('when production is given %s, then the webhook-gateway refuses to start naming the variable', (_what, env, problem) => {
      expect(problems('webhook-gateway', env)).toEqual([expect.stringMatching(problem)]);
    });

    it('when the services are told to trust any peer (true or a hop count), then they refuse; api-gateway may', () => {
      for (const value of ['true', '1', '2']) {
        expect(problems('identity-service', { TRUST_PROXY: value })).toEqual([expect.stringMatching(/^TRUST_PROXY: must name api-gateway's addresses/)]);
      }
      expect(problems('identity-service', { TRUST_PROXY: '10.0.0.0/8, loopback' })).toEqual([]);
      expect(problems('api-gateway', { TRUST_PROXY: '1' })).toEqual([]);
    });
  });

  it('when production runs without an integration secrets key, with the development one or with a short one, then loading fails naming it', () => {
    expect(problems('webhook-gateway', { INTEGRATION_SECRETS_KEY: '' })).toEqual([expect.stringMatching(/^INTEGRATION_SECRETS_KEY: is required/)]);
    expect(problems('webhook-gateway', { INTEGRATION_SECRETS_KEY: 'ZGV2LWludGVncmF0aW9uLXNlY3JldHMta2V5LTAxMjM=' })).toEqual([
      expect.stringMatching(/^INTEGRATION_SECRETS_KEY: must not be the development default/),
    ]);
    expect(problems('webhook-gateway', { INTEGRATION_SECRETS_KEY: Buffer.alloc(16, 7).toString('base64') })).toEqual([expect.stringMatching(/^INTEGRATION_SECRETS_KEY: must be 32 bytes/)]);
  });

  it('when a platform webhook secret is empty, then it stays empty (the endpoint is off), also in production; unset, the default applies in development', () => {
    const production = loadConfig<Record<string, string>>(configSchemas['webhook-gateway'], { ...good, WEBHOOK_SECRET_USER_SERVICE: '' });
    expect(production['WEBHOOK_SECRET_USER_SERVICE']).toBe('');
    const development = loadConfig<Record<string, string>>(configSchemas['webhook-gateway'], { WEBHOOK_SECRET_PAYMENT_SERVICE: '' });
    expect(development['WEBHOOK_SECRET_PAYMENT_SERVICE']).toBe('');
    expect(development['WEBHOOK_SECRET_USER_SERVICE']).toMatch(/^whsec_/);
  });

  it('when RABBITMQ_URL lists the nodes of a cluster, then it is taken; an empty entry, a non-AMQP entry or mixed vhosts stop the start naming it', () => {
    const load = (url: string) => problems('integration-worker', { RABBITMQ_URL: url });
    expect(load('amqp://saas:pw@rabbit-0:5672/prod, amqp://saas:pw@rabbit-1:5672/prod,amqp://saas:pw@rabbit-2:5672/prod')).toEqual([]);
    expect(load('amqp://saas:pw@rabbit-0:5672,,amqp://saas:pw@rabbit-1:5672')).toEqual([expect.stringMatching(/^RABBITMQ_URL: has an empty entry/)]);
    expect(load('amqp://saas:pw@rabbit-0:5672,')).toEqual([expect.stringMatching(/^RABBITMQ_URL: has an empty entry/)]);
    expect(load('amqp://saas:pw@rabbit-0:5672/a,amqp://saas:pw@rabbit-1:5672/b')).toEqual([expect.stringMatching(/^RABBITMQ_URL: names several vhosts/)]);
    expect(load('amqp://saas:pw@rabbit-0:5672,http://saas:pw@rabbit-1')).toEqual([expect.stringMatching(/^RABBITMQ_URL: has an entry that is not an amqp/)]);
    // the entry is named without its credentials
    expect(load('amqp://saas:pw@rabbit-0:5672,http://saas:pw@rabbit-1')[0]).not.toContain('pw@');
    expect(load('amqp://saas:pw@rabbit-0:5672,amqp://guest:guest@rabbit-1:5672')).toEqual([expect.stringMatching(/^RABBITMQ_URL: must carry a password other than the development one/)]);
  });

  it('when STRANDED_RETRY_AFTER_MS is not beyond twice the longest retry delay, then the worker does not start, naming it and the delay', () => {
    // base 2 s, 3 retries: the last retry waits 8 s
    expect(problems('integration-worker', { RETRY_BACKOFF_BASE: '2', MAX_RETRIES: '3', STRANDED_RETRY_AFTER_MS: '16000' })).toEqual([
      expect.stringMatching(/^STRANDED_RETRY_AFTER_MS must exceed twice the longest retry delay .* = 8000 ms/),
    ]);
    expect(problems('integration-worker', { RETRY_BACKOFF_BASE: '2', MAX_RETRIES: '3', STRANDED_RETRY_AFTER_MS: '16001' })).toEqual([]);
    expect(problems('integration-worker', { MAX_RETRIES: '0', STRANDED_RETRY_AFTER_MS: '1000' })).toEqual([]);
  });

  it('when nothing is set in development, then every app starts from safe defaults', () => {
    for (const schema of Object.values(configSchemas)) expect(() => loadConfig(schema, {})).not.toThrow();
  });

  it('when the environment and a .env file disagree, then the environment wins', () => {
    const { readDotEnv } = jest.requireActual('@saas/config') as typeof import('@saas/config');
    const fs = jest.requireActual('node:fs') as typeof import('node:fs');
    const file = `/tmp/saas-env-${process.pid}`;
    fs.writeFileSync(file, 'LOG_LEVEL=debug\nWEBHOOK_MAX_BATCH=7\n');
    const env = readDotEnv({ ENV_FILE: file, LOG_LEVEL: 'warn' });
    expect(env).toMatchObject({ LOG_LEVEL: 'warn', WEBHOOK_MAX_BATCH: '7' });
    fs.unlinkSync(file);
  });

  it.each(['apps/identity-service/src/main.ts', 'apps/webhook-gateway/src/main.ts', 'apps/integration-worker/src/main.ts', 'apps/api-gateway/src/main.ts'])(
    'when %s starts with a malformed variable, then it exits non-zero naming the variable',
    async (entry) => {
      const child = spawnTs(entry, { LOG_LEVEL: 'loud' });
      expect(await waitForExit(child)).toBe(1);
      expect(child.output()).toMatch(/LOG_LEVEL: must be one of/);
    },
  );
});
