import { ConfigError, configSchemas, loadConfig } from '@saas/config';
import { spawnTs, waitForExit } from '@saas/testing';

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

  it('when production runs without an integration secrets key, with the development one or with a short one, then loading fails naming it', () => {
    const secrets = { WEBHOOK_SECRET_USER_SERVICE: '', WEBHOOK_SECRET_PAYMENT_SERVICE: '', WEBHOOK_SECRET_COMMUNICATION_SERVICE: '' };
    const load = (env: Record<string, string>) => () => loadConfig(configSchemas['webhook-gateway'], { NODE_ENV: 'production', ...secrets, ...env });
    expect(load({})).toThrow(/INTEGRATION_SECRETS_KEY: is required/);
    expect(load({ INTEGRATION_SECRETS_KEY: 'ZGV2LWludGVncmF0aW9uLXNlY3JldHMta2V5LTAxMjM=' })).toThrow(/INTEGRATION_SECRETS_KEY: must not be the development default/);
    expect(load({ INTEGRATION_SECRETS_KEY: Buffer.alloc(16, 7).toString('base64') })).toThrow(/INTEGRATION_SECRETS_KEY: must be 32 bytes/);
    expect(load({ INTEGRATION_SECRETS_KEY: Buffer.alloc(32, 7).toString('base64') })).not.toThrow();
  });

  it('when a platform webhook secret is empty, then it stays empty (the endpoint is off), also in production; unset, the default applies in development', () => {
    const production = loadConfig<Record<string, string>>(configSchemas['webhook-gateway'], {
      NODE_ENV: 'production',
      WEBHOOK_SECRET_USER_SERVICE: '',
      WEBHOOK_SECRET_PAYMENT_SERVICE: '',
      WEBHOOK_SECRET_COMMUNICATION_SERVICE: '',
      INTEGRATION_SECRETS_KEY: Buffer.alloc(32, 7).toString('base64'),
    });
    expect(production['WEBHOOK_SECRET_USER_SERVICE']).toBe('');
    const development = loadConfig<Record<string, string>>(configSchemas['webhook-gateway'], { WEBHOOK_SECRET_PAYMENT_SERVICE: '' });
    expect(development['WEBHOOK_SECRET_PAYMENT_SERVICE']).toBe('');
    expect(development['WEBHOOK_SECRET_USER_SERVICE']).toMatch(/^whsec_/);
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
