import jwt from 'jsonwebtoken';
import { bearer, createOrg, createUser, startIdentity, type IdentityHarness } from './harness';

let h: IdentityHarness;
beforeAll(async () => {
  h = await startIdentity();
});
afterAll(() => h.close());

const b64 = (part: object) => Buffer.from(JSON.stringify(part)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

describe('GET /users/me with forged or stale tokens', () => {
  it('when each attack is tried against the real service, then every one answers 401 while the genuine token answers 200', async () => {
    const org = await createOrg(h.runtime.db);
    const user = await createUser(h.runtime.db, { orgId: org.id });
    const genuine = h.tokenOf(user);
    const claims = { sub: user.id, org_id: org.id, role: 'user', ver: user.token_version, jti: 'attack' };
    const full = { ...claims, iss: h.config.JWT_ISSUER, aud: h.config.JWT_AUDIENCE, iat: now(), exp: now() + 300 };
    const privateKey = h.config.JWT_PRIVATE_KEY!;
    const [header, , signature] = genuine.split('.');
    const attacks: Record<string, string> = {
      'alg none': `${b64({ alg: 'none', typ: 'JWT' })}.${b64(full)}.`,
      'HS256 with the public key': jwt.sign(full, h.config.JWT_PUBLIC_KEY!, { algorithm: 'HS256' }),
      'tampered payload': `${header}.${b64({ ...full, role: 'superadmin', org_id: null })}.${signature}`,
      expired: jwt.sign({ ...claims, iat: now() - 600, exp: now() - 300 }, privateKey, { algorithm: 'RS256', issuer: h.config.JWT_ISSUER, audience: h.config.JWT_AUDIENCE }),
      'wrong audience': jwt.sign(claims, privateKey, { algorithm: 'RS256', issuer: h.config.JWT_ISSUER, audience: 'other-api', expiresIn: 300 }),
      'wrong issuer': jwt.sign(claims, privateKey, { algorithm: 'RS256', issuer: 'evil', audience: h.config.JWT_AUDIENCE, expiresIn: 300 }),
      'no exp (never expires)': jwt.sign({ ...claims, iat: now() }, privateKey, { algorithm: 'RS256', issuer: h.config.JWT_ISSUER, audience: h.config.JWT_AUDIENCE }),
      'older token version': jwt.sign({ ...claims, ver: user.token_version - 1 }, privateKey, { algorithm: 'RS256', issuer: h.config.JWT_ISSUER, audience: h.config.JWT_AUDIENCE, expiresIn: 300 }),
    };
    expect((await h.http.get('/users/me').set(bearer(genuine))).status).toBe(200);
    const outcomes: Record<string, number> = {};
    for (const [name, token] of Object.entries(attacks)) outcomes[name] = (await h.http.get('/users/me').set(bearer(token))).status;
    expect(outcomes).toEqual(Object.fromEntries(Object.keys(attacks).map((name) => [name, 401])));
  });
});
