import { createHash, randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import type { Request, RequestHandler } from 'express';
import { SecretBox } from '@saas/auth';
import { Joi } from '@saas/config';
import {
  findOrganization,
  findOrganizationBySlug,
  findSsoConnection,
  findUser,
  lockOrganization,
  shareLockOrganization,
  type SsoConnection,
  type User,
} from '@saas/db';
import { ApiRouter, BadRequestError, NotFoundError, ServiceUnavailableError, UnauthorizedError, ValidationError } from '@saas/http';
import {
  audit,
  removeSsoConnection,
  saveSsoConnection,
  signInWithSso,
  SsoLoginRefusedError,
  toSsoConnectionResource,
  type SsoConnectionSettings,
  type VerifiedIdentity,
} from '@saas/identity';
import { authorize, resolveOrgScope } from '@saas/rbac';
import { actorOf, principalOf, type IdentityContext } from '../context';
import { authProblems, idParams, invalid, notFound, tokenResponse } from '../schemas';

type OpenIdClient = typeof import('openid-client', { with: { 'resolution-mode': 'import' } });
type OidcConfiguration = InstanceType<OpenIdClient['Configuration']>;

/** openid-client is ESM only: imported on first use (a CommonJS service can load it so; Jest cannot, see test/sso.spec.ts). */
let openIdClient: Promise<OpenIdClient> | undefined;
const loadOpenIdClient = () => (openIdClient ??= import('openid-client'));

/** How long a started login may take at the identity provider, and how long its one-time code is valid. */
const STATE_TTL_SECONDS = 600;
const CODE_TTL_SECONDS = 60;
const PROVIDER_TIMEOUT_SECONDS = 5;
const SCOPE = 'openid email profile';

/** Where an identity provider must not be: this host, its private networks, link-local (cloud metadata) and reserved ranges. */
const NON_PUBLIC = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 3],
] as const) {
  NON_PUBLIC.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  NON_PUBLIC.addSubnet(network, prefix, 'ipv6');
}

class IssuerNotAllowedError extends Error {}

/** SSRF guard: refuses a URL whose host resolves to a non-public address (IPv4-mapped IPv6 included). */
async function assertPublicHost(url: URL): Promise<void> {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await lookup(host, { all: true, verbatim: true });
  const refused = addresses.find(({ address, family }) => NON_PUBLIC.check(address, family === 6 ? 'ipv6' : 'ipv4'));
  if (refused) throw new IssuerNotAllowedError(`${url.host} resolves to the non-public address ${refused.address}`);
}

/** The state of a started login, kept server-side under its `state` until the callback takes it (once). */
interface PendingLogin {
  org_id: string;
  code_verifier: string;
  nonce: string;
  redirect_uri: string | null;
}

const slugParams = Joi.object({ org_slug: Joi.string().max(63).required() });
const domain = Joi.string().trim().lowercase().domain({ tlds: false }).max(253);

export function ssoRoutes(ctx: IdentityContext): ApiRouter {
  const { db, redis, logger } = ctx.runtime;
  const { config, authenticate } = ctx;
  const box = new SecretBox(config.INTEGRATION_SECRETS_KEY);
  const production = config.NODE_ENV === 'production';
  const allowedRedirects = new Set(
    config.SSO_ALLOWED_REDIRECT_URIS.split(',')
      .map((uri) => uri.trim())
      .filter(Boolean),
  );
  const stateKey = (state: string) => `${config.REDIS_KEY_PREFIX}sso:state:${state}`;
  // Only the code's hash names the key: whoever reads Redis cannot redeem a code.
  const codeKey = (code: string) => `${config.REDIS_KEY_PREFIX}sso:code:${createHash('sha256').update(code).digest('hex')}`;

  /** Every request to an identity provider goes through the SSRF guard, at save and at each use (DNS may change). */
  const guardedFetch = async (url: string, options: RequestInit) => {
    if (!config.SSO_ALLOW_PRIVATE_ISSUERS) await assertPublicHost(new URL(url));
    return fetch(url, { ...options, redirect: 'manual' });
  };

  /** The provider's metadata from its discovery document; ID tokens are checked against its JWKS as well. */
  async function discover(issuer: string, clientId: string, clientSecret?: string): Promise<{ oidc: OpenIdClient; provider: OidcConfiguration }> {
    const oidc = await loadOpenIdClient();
    const provider = await oidc.discovery(new URL(issuer), clientId, undefined, clientSecret === undefined ? undefined : oidc.ClientSecretBasic(clientSecret), {
      timeout: PROVIDER_TIMEOUT_SECONDS,
      execute: production ? [] : [oidc.allowInsecureRequests],
      [oidc.customFetch]: guardedFetch,
    });
    // Code-flow ID tokens come straight from the token endpoint, which openid-client trusts by default; verify the signature anyway.
    oidc.enableNonRepudiationChecks(provider);
    return { oidc, provider };
  }

  // --- the organization's connection ------------------------------------------------------------------------------

  /** The organization `id` as the caller may see it: a superadmin any, an admin only their own (else 404). */
  const orgIdOf = (req: Request) => resolveOrgScope(principalOf(req), String(req.params['id'])) ?? String(req.params['id']);

  const saveConnection: RequestHandler = async (req, res) => {
    const settings = req.body as SsoConnectionSettings;
    const orgId = orgIdOf(req);
    try {
      await discover(settings.issuer, settings.client_id);
    } catch (err) {
      const refused = err instanceof IssuerNotAllowedError || (err instanceof Error && err.cause instanceof IssuerNotAllowedError);
      const problem = { path: 'issuer', message: err instanceof Error ? err.message : String(err) };
      if (refused) throw new ValidationError([problem], 'The issuer is on a private, loopback or link-local address', 'sso_issuer_not_allowed');
      throw new ValidationError([problem], "The issuer's discovery document could not be fetched or is invalid", 'sso_discovery_failed');
    }
    const connection = await db.forOrg(orgId, async (tx) => {
      const org = await lockOrganization(tx, orgId);
      if (!org) throw new NotFoundError('organization_not_found', 'Organization not found');
      return saveSsoConnection(tx, org, settings, box, actorOf(req));
    });
    res.json(toSsoConnectionResource(connection));
  };

  const readConnection: RequestHandler = async (req, res) => {
    const orgId = orgIdOf(req);
    const connection = await db.forOrg(orgId, (tx) => findSsoConnection(tx, orgId));
    if (!connection) throw new NotFoundError('sso_not_configured', 'The organization has no single sign-on connection');
    res.json(toSsoConnectionResource(connection));
  };

  const deleteConnection: RequestHandler = async (req, res) => {
    const orgId = orgIdOf(req);
    await db.forOrg(orgId, (tx) => removeSsoConnection(tx, orgId, actorOf(req)));
    res.status(204).end();
  };

  // --- the login ----------------------------------------------------------------------------------------------------

  const startLogin: RequestHandler = async (req, res) => {
    const redirectUri = (req.query['redirect_uri'] as string | undefined) ?? null;
    if (redirectUri !== null && !allowedRedirects.has(redirectUri)) {
      throw new BadRequestError('redirect_uri_not_allowed', 'redirect_uri is not one of SSO_ALLOWED_REDIRECT_URIS');
    }
    const connection = await db.asSystem('an SSO login finds its organization by slug', async (tx) => {
      const org = await findOrganizationBySlug(tx, String(req.params['org_slug']));
      return org && org.status !== 'deleted' ? findSsoConnection(tx, org.id) : null;
    });
    if (!connection) throw new NotFoundError('sso_not_configured', 'No single sign-on for this organization');
    let started: { oidc: OpenIdClient; provider: OidcConfiguration };
    try {
      started = await discover(connection.issuer, connection.client_id);
    } catch (err) {
      logger.warn({ err, orgId: connection.org_id, request_id: req.id }, 'SSO: the identity provider cannot be discovered');
      throw new ServiceUnavailableError('sso_provider_unavailable', "The organization's identity provider cannot be reached");
    }
    const { oidc, provider } = started;
    const pending: PendingLogin = { org_id: connection.org_id, code_verifier: oidc.randomPKCECodeVerifier(), nonce: oidc.randomNonce(), redirect_uri: redirectUri };
    const state = oidc.randomState();
    await redis.set(stateKey(state), JSON.stringify(pending), 'EX', STATE_TTL_SECONDS);
    const authorizationUrl = oidc.buildAuthorizationUrl(provider, {
      redirect_uri: config.SSO_CALLBACK_URL,
      scope: SCOPE,
      code_challenge: await oidc.calculatePKCECodeChallenge(pending.code_verifier),
      code_challenge_method: 'S256',
      state,
      nonce: pending.nonce,
    });
    res.redirect(302, authorizationUrl.href);
  };

  /** Logs and audits (in the organization's chain, when known) why a login was refused; the caller gets the same 401. */
  async function refused(req: Request, reason: string, orgId: string | null, details: Record<string, unknown> = {}): Promise<UnauthorizedError> {
    logger.info({ reason, orgId, request_id: req.id, ...details }, 'SSO login refused');
    if (orgId) {
      await db.forOrg(orgId, (tx) =>
        audit(tx, actorOf(req), { orgId, action: 'user.sso_login_failed', targetType: 'organization', targetId: orgId, metadata: { reason, ...details } }),
      );
    }
    return new UnauthorizedError('sso_login_failed', 'Single sign-on failed');
  }

  /** Exchanges the code and verifies the ID token (signature, iss, aud, exp, nonce; PKCE and state), or says why not. */
  async function verifiedIdentity(req: Request, connection: SsoConnection, pending: PendingLogin, state: string): Promise<VerifiedIdentity | string> {
    try {
      const { oidc, provider } = await discover(connection.issuer, connection.client_id, box.open(connection.client_secret_ciphertext, connection.org_id));
      // The URL the provider redirected to, as registered there (behind api-gateway the request's own URL differs).
      const currentUrl = new URL(config.SSO_CALLBACK_URL);
      currentUrl.search = new URL(req.originalUrl, 'http://callback').search;
      const tokens = await oidc.authorizationCodeGrant(provider, currentUrl, {
        pkceCodeVerifier: pending.code_verifier,
        expectedState: state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
      const claims = tokens.claims();
      if (!claims) return 'id_token_missing';
      if (claims['email'] !== undefined) return { ...claims };
      // Conformant providers may put the email in UserInfo only (the scope's claims go there when an access token is issued).
      const userInfo = await oidc.fetchUserInfo(provider, tokens.access_token, claims.sub);
      return { ...userInfo, ...claims };
    } catch (err) {
      logger.info({ err, orgId: connection.org_id, request_id: req.id }, 'SSO: the authorization response or ID token was rejected');
      return err instanceof IssuerNotAllowedError || (err instanceof Error && err.cause instanceof IssuerNotAllowedError) ? 'issuer_not_allowed' : 'id_token_rejected';
    }
  }

  const callback: RequestHandler = async (req, res) => {
    const state = String(req.query['state']);
    const stored = await redis.getdel(stateKey(state));
    if (!stored) throw await refused(req, 'state_unknown_used_or_expired', null);
    const pending = JSON.parse(stored) as PendingLogin;
    const connection = await db.forOrg(pending.org_id, (tx) => findSsoConnection(tx, pending.org_id));
    if (!connection) throw await refused(req, 'sso_not_configured', pending.org_id);
    const identity = await verifiedIdentity(req, connection, pending, state);
    if (typeof identity === 'string') throw await refused(req, identity, pending.org_id);

    let user: User;
    try {
      user = await db.forOrg(pending.org_id, async (tx) => {
        // Read again in the transaction: the connection or the organization may have changed while the user was away.
        const org = await shareLockOrganization(tx, pending.org_id);
        const current = await findSsoConnection(tx, pending.org_id);
        if (!org || !current || current.issuer !== connection.issuer) throw new SsoLoginRefusedError('no_account');
        return signInWithSso(tx, org, current, identity, { requestId: String(req.id), ip: req.ip ?? null });
      });
    } catch (err) {
      if (err instanceof SsoLoginRefusedError) throw await refused(req, err.reason, pending.org_id, { email: identity.email });
      throw err;
    }
    // A pending user just became active: drop any cached token state of theirs.
    await ctx.invalidate({ userId: user.id });
    if (!pending.redirect_uri) {
      res.json(ctx.signer.sign(user));
      return;
    }
    const code = randomBytes(32).toString('base64url');
    await redis.set(codeKey(code), user.id, 'EX', CODE_TTL_SECONDS);
    const target = new URL(pending.redirect_uri);
    target.searchParams.set('code', code);
    res.redirect(302, target.href);
  };

  const redeemCode: RequestHandler = async (req, res) => {
    const userId = await redis.getdel(codeKey((req.body as { code: string }).code));
    const user = userId
      ? await db.asSystem('redeem a one-time SSO code', async (tx) => {
          const found = await findUser(tx, userId);
          const org = found?.org_id ? await findOrganization(tx, found.org_id) : null;
          return found?.status === 'active' && org?.status === 'active' ? found : null;
        })
      : null;
    if (!user) throw new UnauthorizedError('sso_login_failed', 'The code is unknown, used or expired');
    res.json(ctx.signer.sign(user));
  };

  const connectionBody = Joi.object({
    issuer: Joi.string()
      .uri({ scheme: production ? ['https'] : ['http', 'https'] })
      .max(2000)
      .required(),
    client_id: Joi.string().trim().min(1).max(255).required(),
    client_secret: Joi.string().min(1).max(2000).description('write-only; omit to keep the stored one'),
    allowed_domains: Joi.array().items(domain.required()).min(1).max(20).unique().required(),
    jit_provisioning: Joi.boolean().default(false),
    enforce_sso: Joi.boolean().default(false),
  }).label('SsoConnectionRequest');
  const connectionResource = Joi.object({
    org_id: Joi.string().required(),
    issuer: Joi.string().required(),
    client_id: Joi.string().required(),
    allowed_domains: Joi.array().items(Joi.string()).required(),
    jit_provisioning: Joi.boolean().required(),
    enforce_sso: Joi.boolean().required(),
    created_at: Joi.string().isoDate().allow(null),
    updated_at: Joi.string().isoDate().allow(null),
  }).label('SsoConnection');

  const manage = { tags: ['organizations'], security: 'bearer' as const, guards: [authenticate, authorize('orgs:configure_sso')] };
  const login = { tags: ['auth'], security: 'none' as const };
  const refusedLogin = { 401: { description: 'sso_login_failed: refused, whatever the reason (the audit log says which)' } };
  return (
    new ApiRouter()
      .add({
        ...manage,
        method: 'put',
        path: '/orgs/:id/sso',
        summary: "Configure the organization's single sign-on (OIDC) connection",
        description:
          "The issuer's discovery document is fetched and checked first. `client_secret` is stored encrypted and never returned; " +
          'omit it to keep the stored one. Changing the issuer forgets which IdP identities users were bound to.',
        request: { params: idParams, body: connectionBody },
        responses: {
          200: { description: 'The connection (without its secret)', schema: connectionResource },
          ...authProblems,
          ...notFound,
          409: { description: 'organization_deleted' },
          422: { description: 'Invalid request; sso_discovery_failed; sso_issuer_not_allowed (private, loopback or link-local address)' },
        },
        handler: saveConnection,
      })
      .add({
        ...manage,
        method: 'get',
        path: '/orgs/:id/sso',
        summary: "The organization's single sign-on connection",
        request: { params: idParams },
        responses: { 200: { description: 'The connection (without its secret)', schema: connectionResource }, ...authProblems, ...notFound },
        handler: readConnection,
      })
      .add({
        ...manage,
        method: 'delete',
        path: '/orgs/:id/sso',
        summary: "Remove the organization's single sign-on connection",
        request: { params: idParams },
        responses: { 204: { description: 'Removed; users keep their accounts and sign in with a password or an invite again' }, ...authProblems, ...notFound },
        handler: deleteConnection,
      })
      // before `/auth/sso/:org_slug`: `callback` is not a slug
      .add({
        ...login,
        method: 'get',
        path: '/auth/sso/callback',
        summary: 'Where the identity provider returns the browser (register SSO_CALLBACK_URL there)',
        description:
          'Exchanges the code, verifies the ID token, requires a verified email of an allowed domain, then signs in the bound user, ' +
          'binds and (if pending) activates the user with that email, or creates one (jit_provisioning). ' +
          'Without a redirect_uri at the start it answers the access token; with one it redirects there with `?code=` (one use, 60 s).',
        request: {
          query: Joi.object({ state: Joi.string().max(200).required(), code: Joi.string().max(4096) })
            // providers add their own parameters (iss, session_state, error, …): openid-client reads them
            .unknown(true),
        },
        responses: {
          200: { description: 'An access token, as from login', schema: tokenResponse },
          302: { description: 'To the redirect_uri given at the start, with a one-time `code`', headers: { Location: { description: '<redirect_uri>?code=…' } } },
          ...refusedLogin,
          ...invalid,
        },
        handler: callback,
      })
      .add({
        ...login,
        method: 'get',
        path: '/auth/sso/:org_slug',
        summary: "Start a single sign-on login at the organization's identity provider",
        description: 'Authorization code flow with PKCE; `redirect_uri` (one of SSO_ALLOWED_REDIRECT_URIS) is where a browser app gets its one-time code.',
        request: { params: slugParams, query: Joi.object({ redirect_uri: Joi.string().max(2000) }) },
        responses: {
          302: { description: 'To the identity provider', headers: { Location: { description: 'the authorization URL' } } },
          400: { description: 'redirect_uri_not_allowed' },
          404: { description: 'sso_not_configured: no such organization, or no connection' },
          ...invalid,
          503: { description: 'sso_provider_unavailable: the discovery document cannot be fetched' },
        },
        handler: startLogin,
      })
      .add({
        ...login,
        method: 'post',
        path: '/auth/sso/token',
        summary: 'Redeem the one-time code of an SSO login for an access token',
        request: { body: Joi.object({ code: Joi.string().max(200).required() }).label('SsoTokenRequest') },
        responses: { 200: { description: 'An access token, as from login', schema: tokenResponse }, 401: { description: 'sso_login_failed: unknown, used or expired code' }, ...invalid },
        handler: redeemCode,
      })
  );
}
