import { createPublicKey } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { createOrg, createUser, DEFAULT_TEST_PASSWORD, startIdentity, type IdentityHarness } from './harness';

let h: IdentityHarness;
beforeAll(async () => {
  h = await startIdentity();
});
afterAll(() => h.close());

describe('GET /.well-known/jwks.json', () => {
  it('when a token is issued at login, then the published key with its kid verifies it (RS256)', async () => {
    const org = await createOrg(h.runtime.db);
    const user = await createUser(h.runtime.db, { orgId: org.id });
    const { access_token } = (await h.http.post('/users/login').send({ email: user.email, password: DEFAULT_TEST_PASSWORD })).body;
    const res = await h.http.get('/.well-known/jwks.json');
    expect(res.status).toBe(200);
    const { header } = jwt.decode(access_token, { complete: true })!;
    const jwk = res.body.keys.find((k: { kid: string }) => k.kid === header.kid);
    expect(jwk).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    expect(jwk).not.toHaveProperty('d');
    const claims = jwt.verify(access_token, createPublicKey({ key: jwk, format: 'jwk' }), { algorithms: ['RS256'], audience: h.config.JWT_AUDIENCE, issuer: h.config.JWT_ISSUER });
    expect(claims).toMatchObject({ sub: user.id, org_id: org.id, role: 'user', ver: 1 });
  });
});

describe('GET /openapi.json', () => {
  it('when the document is read, then every identity endpoint of the contract is described with its security', async () => {
    const { paths } = (await h.http.get('/openapi.json')).body as { paths: Record<string, Record<string, { security: unknown[] }>> };
    const operations = Object.entries(paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`));
    expect(operations.sort()).toEqual(
      [
        'POST /users/login',
        'POST /users/activate',
        'GET /users/me',
        'PATCH /users/me',
        'POST /users',
        'GET /users',
        'GET /users/{id}',
        'PATCH /users/{id}',
        'DELETE /users/{id}',
        'POST /users/{id}/invite',
        'POST /orgs',
        'GET /orgs',
        'GET /orgs/{id}',
        'PATCH /orgs/{id}',
        'DELETE /orgs/{id}',
        'GET /audit-logs',
        'GET /audit-logs/verify',
        'GET /.well-known/jwks.json',
        'PUT /orgs/{id}/sso',
        'GET /orgs/{id}/sso',
        'DELETE /orgs/{id}/sso',
        'GET /auth/sso/{org_slug}',
        'GET /auth/sso/callback',
        'POST /auth/sso/token',
      ].sort(),
    );
    expect(paths['/users/login']!['post']!.security).toEqual([]);
    expect(paths['/users/me']!['get']!.security).toEqual([{ bearerAuth: [] }, { oauth2Password: [] }]);
    expect(paths['/auth/sso/callback']!['get']!.security).toEqual([]);
    expect(paths['/orgs/{id}/sso']!['put']!.security).toEqual([{ bearerAuth: [] }, { oauth2Password: [] }]);
  });
});
