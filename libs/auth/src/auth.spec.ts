import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { Express } from 'express';
import Redis from 'ioredis';
import jwt from 'jsonwebtoken';
import pino from 'pino';
import request from 'supertest';
import { configSchemas, loadConfig, type IdentityServiceConfig } from '@saas/config';
import { Database, Organization, User, type OrgStatus, type Role } from '@saas/db';
import { ApiRouter, createHttpApp, createMetrics } from '@saas/http';
import {
  createAuthenticator,
  createTokenSigner,
  invalidateOrgTokenState,
  invalidateTokenState,
  loadVerifyKey,
  loadVerifyKeys,
  publicJwks,
  type AccessToken,
} from './index';

const config = loadConfig<IdentityServiceConfig>(configSchemas['identity-service'], process.env);
const db = new Database({ url: config.DATABASE_URL, poolMax: 4 });
const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
const signer = createTokenSigner(config);
const publicPem = loadVerifyKey(config).pem;

function appWith(authRedis: Redis, authConfig: IdentityServiceConfig = config): Express {
  const api = new ApiRouter().add({
    method: 'get',
    path: '/whoami',
    summary: 'echo the principal',
    tags: ['test'],
    security: 'bearer',
    guards: [createAuthenticator({ config: authConfig, db, redis: authRedis })],
    responses: { 200: { description: 'the principal' } },
    handler: (req, res) => {
      res.json(req.principal);
    },
  });
  return createHttpApp({
    service: 'auth-test',
    logger: pino({ level: 'silent' }),
    metrics: createMetrics('auth-test'),
    trustProxy: 'false',
    readiness: {},
    api: { info: { title: 't', version: '1' }, routers: [api] },
  });
}
const app = appWith(redis);

afterAll(async () => {
  redis.disconnect();
  await db.close();
});

const suffix = () => randomBytes(4).toString('hex');

async function seed(options: { role?: Role; status?: User['status']; orgStatus?: OrgStatus } = {}) {
  const role = options.role ?? 'user';
  return db.asSystem('test fixture', async (transaction) => {
    const org =
      role === 'superadmin' ? null : await Organization.create({ name: `Org ${suffix()}`, slug: `auth-${suffix()}`, status: options.orgStatus ?? 'active' }, { transaction });
    const user = await User.create(
      { org_id: org?.id ?? null, email: `${suffix()}@auth.test`, role, status: options.status ?? 'active' },
      { transaction },
    );
    return { org, user };
  });
}

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const whoami = (token: string, target: Express = app) => request(target).get('/whoami').set(bearer(token));
const tokenFor = (user: User): AccessToken => signer.sign(user);

function claimsOf(user: User) {
  return { sub: user.id, org_id: user.org_id, role: user.role, ver: user.token_version, jti: 'jti-1' };
}
const signOptions = { issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE, expiresIn: 60 } as const;

describe('createTokenSigner', () => {
  it('when a token is signed, then it carries the contract claims and the key id of the published key set', async () => {
    const { user } = await seed();
    const { access_token, token_type, expires_in } = tokenFor(user);
    const decoded = jwt.decode(access_token, { complete: true })!;
    const payload = decoded.payload as Record<string, unknown>;
    expect({ token_type, expires_in }).toEqual({ token_type: 'bearer', expires_in: config.ACCESS_TOKEN_TTL_SECONDS });
    expect(decoded.header.alg).toBe('RS256');
    expect(decoded.header.kid).toBe(publicJwks(loadVerifyKeys(config)).keys[0]!['kid']);
    expect(payload).toMatchObject({ iss: config.JWT_ISSUER, aud: config.JWT_AUDIENCE, sub: user.id, org_id: user.org_id, role: 'user', ver: 1 });
    expect(typeof payload['jti']).toBe('string');
    expect(payload['exp']).toBe((payload['iat'] as number) + config.ACCESS_TOKEN_TTL_SECONDS);
  });

  it('when the private and public keys are not a pair, then the signer refuses to start', () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    expect(() => createTokenSigner({ ...config, JWT_PUBLIC_KEY: other.publicKey })).toThrow(/not a pair/);
  });

  it('when the key pair is EC P-256, then tokens are ES256 and verify with that key only', async () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1', publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    const ecConfig = { ...config, JWT_PRIVATE_KEY: ec.privateKey, JWT_PUBLIC_KEY: ec.publicKey };
    const { user } = await seed();
    const { access_token } = createTokenSigner(ecConfig).sign(user);
    expect(jwt.decode(access_token, { complete: true })!.header.alg).toBe('ES256');
    const ecApp = appWith(redis, ecConfig);
    expect((await whoami(access_token, ecApp)).status).toBe(200);
    expect((await whoami(tokenFor(user).access_token, ecApp)).status).toBe(401);
  });

  it('when no key is configured and the keys folder is empty, then loading names the variable', () => {
    expect(() => loadVerifyKey({ ...config, JWT_PUBLIC_KEY: undefined, JWT_KEYS_DIR: '/nonexistent-keys' })).toThrow(/JWT_PUBLIC_KEY/);
  });
});

const rsaPair = () => generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });

describe('key rotation (JWT_ACCEPTED_PUBLIC_KEYS)', () => {
  const retired = rsaPair();
  const rotating = { ...config, JWT_ACCEPTED_PUBLIC_KEYS: retired.publicKey };
  const rotatingApp = appWith(redis, rotating);
  const retiredKid = loadVerifyKeys(rotating).all[1]!.kid;
  const signWith = (user: User, privateKey: string, kid?: string) =>
    jwt.sign(claimsOf(user), privateKey, { ...signOptions, algorithm: 'RS256', ...(kid ? { keyid: kid } : {}) });

  it('when a token names an accepted key by its kid, then it verifies with that key; once the key is no longer accepted, it answers 401', async () => {
    const { user } = await seed();
    const token = signWith(user, retired.privateKey, retiredKid);
    expect((await whoami(token, rotatingApp)).status).toBe(200);
    expect((await whoami(tokenFor(user).access_token, rotatingApp)).status).toBe(200);
    expect((await whoami(token)).status).toBe(401);
  });

  it('when a token signed by an accepted key names no kid or another key\'s kid, then it answers 401', async () => {
    const { user } = await seed();
    expect((await whoami(signWith(user, retired.privateKey), rotatingApp)).status).toBe(401);
    expect((await whoami(signWith(user, retired.privateKey, loadVerifyKey(config).kid), rotatingApp)).status).toBe(401);
    expect((await whoami(signWith(user, rsaPair().privateKey, 'no-such-key'), rotatingApp)).status).toBe(401);
  });

  it('when an accepted key is named but the token uses HS256 with that public key as the secret, then it answers 401', async () => {
    const { user } = await seed();
    const forged = jwt.sign(claimsOf(user), retired.publicKey, { ...signOptions, algorithm: 'HS256', keyid: retiredKid });
    expect((await whoami(forged, rotatingApp)).status).toBe(401);
  });

  it('when the key set is published, then it lists the current key first and every accepted key once', () => {
    const keys = publicJwks(loadVerifyKeys({ ...rotating, JWT_ACCEPTED_PUBLIC_KEYS: `${retired.publicKey}\n${retired.publicKey}\n${publicPem}` })).keys;
    expect(keys.map((k) => k['kid'])).toEqual([loadVerifyKey(config).kid, retiredKid]);
    expect(keys.every((k) => k['alg'] === 'RS256' && k['use'] === 'sig' && !('d' in k))).toBe(true);
  });
});

describe('createAuthenticator', () => {
  it('when the token is valid and its user active, then the principal is the user', async () => {
    const { user, org } = await seed({ role: 'admin' });
    const res = await whoami(tokenFor(user).access_token);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ userId: user.id, orgId: org!.id, role: 'admin', tokenId: expect.any(String) });
  });

  it('when a superadmin (no organization) presents a valid token, then the principal has a null organization', async () => {
    const { user } = await seed({ role: 'superadmin' });
    const res = await whoami(tokenFor(user).access_token);
    expect(res.body).toMatchObject({ userId: user.id, orgId: null, role: 'superadmin' });
  });

  it('when no credentials are sent, then it answers 401 with WWW-Authenticate: Bearer as a problem', async () => {
    const res = await request(app).get('/whoami');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
  });

  describe('JWT attacks', () => {
    let user: User;
    beforeAll(async () => {
      ({ user } = await seed());
    });

    const forge = (header: object, payload: object, signature = '') =>
      [header, payload].map((part) => Buffer.from(JSON.stringify(part)).toString('base64url')).join('.') + `.${signature}`;
    const now = () => Math.floor(Date.now() / 1000);
    const validPayload = () => ({ ...claimsOf(user), iss: config.JWT_ISSUER, aud: config.JWT_AUDIENCE, iat: now(), exp: now() + 60 });

    it.each<[string, () => string]>([
      ['alg none', () => forge({ alg: 'none', typ: 'JWT' }, validPayload())],
      ['HS256 signed with the public key as the secret', () => jwt.sign(validPayload(), publicPem, { algorithm: 'HS256' })],
      [
        'a tampered payload (role raised) under the original signature',
        () => {
          const [header, , signature] = tokenFor(user).access_token.split('.');
          const payload = Buffer.from(JSON.stringify({ ...validPayload(), role: 'superadmin', org_id: null })).toString('base64url');
          return `${header}.${payload}.${signature}`;
        },
      ],
      ['an expired token', () => jwt.sign({ ...claimsOf(user), iat: now() - 120, exp: now() - 60 }, config.JWT_PRIVATE_KEY!, { algorithm: 'RS256', issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE })],
      ['a wrong audience', () => jwt.sign(claimsOf(user), config.JWT_PRIVATE_KEY!, { ...signOptions, algorithm: 'RS256', audience: 'another-api' })],
      ['a wrong issuer', () => jwt.sign(claimsOf(user), config.JWT_PRIVATE_KEY!, { ...signOptions, algorithm: 'RS256', issuer: 'someone-else' })],
      [
        'a token signed by another key',
        () => {
          const other = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
          return jwt.sign(claimsOf(user), other.privateKey, { ...signOptions, algorithm: 'RS256' });
        },
      ],
      ['a token without the version claim', () => jwt.sign({ ...claimsOf(user), ver: undefined }, config.JWT_PRIVATE_KEY!, { ...signOptions, algorithm: 'RS256' })],
      ['garbage', () => 'not.a.jwt'],
    ])('when the token is %s, then it answers 401', async (_label, token) => {
      const res = await whoami(token());
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer');
    });

    it('when a token that already passed comes back with one character of its signature changed, then it answers 401', async () => {
      const { access_token } = tokenFor(user);
      expect((await whoami(access_token)).status).toBe(200);
      // the middle of the signature: the last base64url character may carry only padding bits
      const at = access_token.length - 20;
      const altered = `${access_token.slice(0, at)}${access_token[at] === 'A' ? 'B' : 'A'}${access_token.slice(at + 1)}`;
      expect((await whoami(altered)).status).toBe(401);
    });

    it('when a token that already passed has expired since, then it answers 401', async () => {
      const token = jwt.sign({ ...claimsOf(user), jti: 'short-lived' }, config.JWT_PRIVATE_KEY!, { ...signOptions, algorithm: 'RS256', expiresIn: 2 });
      expect((await whoami(token)).status).toBe(200);
      const later = Date.now() + 10_000; // past exp and the 5 s clock tolerance
      const clock = jest.spyOn(Date, 'now').mockReturnValue(later);
      try {
        expect((await whoami(token)).status).toBe(401);
      } finally {
        clock.mockRestore();
      }
    });
  });

  describe('revocation', () => {
    it('when the user is suspended after the token was cached as valid, then the next request answers 401', async () => {
      const { user } = await seed();
      const { access_token } = tokenFor(user);
      expect((await whoami(access_token)).status).toBe(200);
      await db.asSystem('test', (transaction) => User.update({ status: 'suspended' }, { where: { id: user.id }, transaction }));
      await invalidateTokenState(redis, config.REDIS_KEY_PREFIX, user.id);
      const res = await whoami(access_token);
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('user_not_active');
    });

    it('when the token version was bumped (password change), then a token from before answers 401 and a new one works', async () => {
      const { user } = await seed();
      const before = tokenFor(user).access_token;
      expect((await whoami(before)).status).toBe(200);
      await db.asSystem('test', (transaction) => user.increment('token_version', { transaction }));
      await invalidateTokenState(redis, config.REDIS_KEY_PREFIX, user.id);
      expect((await whoami(before)).body.code).toBe('token_revoked');
      const fresh = await db.asSystem('test', (transaction) => User.findByPk(user.id, { transaction }));
      expect((await whoami(tokenFor(fresh!).access_token)).status).toBe(200);
    });

    it('when the user is deleted (inactive), then the token answers 401', async () => {
      const { user } = await seed({ status: 'inactive' });
      expect((await whoami(tokenFor(user).access_token)).status).toBe(401);
    });

    it("when the user's organization is suspended after the token was cached, then the next request answers 401", async () => {
      const { user, org } = await seed();
      const { access_token } = tokenFor(user);
      expect((await whoami(access_token)).status).toBe(200);
      await db.asSystem('test', (transaction) => Organization.update({ status: 'suspended' }, { where: { id: org!.id }, transaction }));
      await invalidateOrgTokenState(redis, config.REDIS_KEY_PREFIX, org!.id);
      expect((await whoami(access_token)).body.code).toBe('organization_not_active');
    });

    it('when the state is cached, then it is served from Redis under the configured prefix', async () => {
      const { user } = await seed();
      await whoami(tokenFor(user).access_token);
      expect(JSON.parse((await redis.get(`${config.REDIS_KEY_PREFIX}auth:user:${user.id}`))!)).toEqual({ status: 'active', ver: 1, role: 'user', org: user.org_id });
    });

    it('when Redis is unreachable, then tokens are still checked against the database', async () => {
      const deadRedis = new Redis('redis://127.0.0.1:1', { maxRetriesPerRequest: 0, enableOfflineQueue: false, lazyConnect: true, retryStrategy: () => null });
      deadRedis.on('error', () => undefined);
      const offline = appWith(deadRedis);
      const { user } = await seed();
      expect((await whoami(tokenFor(user).access_token, offline)).status).toBe(200);
      const { user: suspended } = await seed({ status: 'suspended' });
      expect((await whoami(tokenFor(suspended).access_token, offline)).status).toBe(401);
      deadRedis.disconnect();
    });
  });
});

describe('Database.withOrgScope', () => {
  it("when the scope is one organization, then only that organization's users are visible; null sees all", async () => {
    const [{ user: a }, { user: b }] = [await seed(), await seed()];
    const scoped = await db.withOrgScope(a.org_id, 'test', (transaction) => User.findAll({ where: { id: [a.id, b.id] }, transaction }));
    expect(scoped.map((u) => u.id)).toEqual([a.id]);
    const all = await db.withOrgScope(null, 'test', (transaction) => User.findAll({ where: { id: [a.id, b.id] }, transaction }));
    expect(all).toHaveLength(2);
  });
});
