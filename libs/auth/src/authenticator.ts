import type { Request, RequestHandler } from 'express';
import type Redis from 'ioredis';
import { Passport } from 'passport';
import { ExtractJwt, Strategy as JwtStrategy, type VerifiedCallback } from 'passport-jwt';
import type { JwtVerifyConfig, RedisConfig } from '@saas/config';
import { isUuid, type Database } from '@saas/db';
import { UnauthorizedError } from '@saas/http';
import type { Principal } from '@saas/rbac';
import { loadVerifyKeys, type VerifyKey, type VerifyKeySet } from './keys';
import { createTokenStateStore, type TokenStateStore } from './token-state';
import { VerifiedTokens } from './verified-tokens';

export interface AccessTokenClaims {
  sub: string;
  org_id: string | null;
  role: Principal['role'];
  ver: number;
  jti: string;
  iat: number;
  exp: number;
}

const ROLES = new Set(['superadmin', 'admin', 'user']);

function isWellFormed(payload: Record<string, unknown>): payload is Record<string, unknown> & AccessTokenClaims {
  const orgId = payload['org_id'];
  return (
    isUuid(payload['sub']) &&
    (orgId === null || isUuid(orgId)) &&
    ROLES.has(payload['role'] as string) &&
    Number.isInteger(payload['ver']) &&
    typeof payload['jti'] === 'string' &&
    Number.isInteger(payload['iat']) &&
    // jsonwebtoken checks `exp` only when present: a token without one would never expire
    Number.isInteger(payload['exp'])
  );
}

class TokenRejected {
  constructor(readonly code: string) {}
}

/** The token is still good only while its user is active, at the same token version, in an active organization. */
async function principalFor(claims: AccessTokenClaims, store: TokenStateStore): Promise<Principal | TokenRejected> {
  const state = await store.load(claims.sub, claims.org_id);
  if (!state) return new TokenRejected('invalid_token');
  const { user, orgStatus } = state;
  if (user.ver !== claims.ver || user.org !== claims.org_id) return new TokenRejected('token_revoked');
  if (user.status !== 'active') return new TokenRejected('user_not_active');
  if (user.org !== null && orgStatus !== 'active') return new TokenRejected('organization_not_active');
  return { userId: claims.sub, orgId: user.org, role: user.role, tokenId: claims.jti };
}

export interface AuthenticatorDeps {
  config: JwtVerifyConfig & RedisConfig;
  db: Database;
  redis: Redis;
  /** Defaults to the configured keys (JWT_PUBLIC_KEY or JWT_KEYS_DIR, plus JWT_ACCEPTED_PUBLIC_KEYS). */
  keys?: VerifyKeySet;
}

/**
 * The key a token names in its header (`kid`; a token without one is checked against the current key), provided its
 * `alg` is that key's one algorithm: a token can neither pick a key it was not signed with nor switch algorithms.
 */
function keyForToken(keys: VerifyKeySet, token: string): VerifyKey | Error {
  let header: { kid?: unknown; alg?: unknown };
  try {
    header = JSON.parse(Buffer.from(token.split('.', 1)[0] ?? '', 'base64url').toString('utf8')) as typeof header;
  } catch {
    return new Error('malformed token header');
  }
  const key = header?.kid === undefined ? keys.current : typeof header.kid === 'string' ? keys.byKid.get(header.kid) : undefined;
  if (!key) return new Error('unknown key id');
  if (header.alg !== key.algorithm) return new Error('algorithm not allowed for this key');
  return key;
}

/** Seconds of clock skew between signer and verifier tolerated on `exp`. */
const CLOCK_TOLERANCE_SECONDS = 5;

/**
 * Route guard: verifies the Bearer JWT with passport-jwt (one-algorithm allowlist from the key type, `iss`, `aud`,
 * `exp`) — unless the same token passed before with the same key and has not expired (VerifiedTokens) — then the
 * user's current status, token version and organization status (cached in Redis under `${REDIS_KEY_PREFIX}auth:`,
 * invalidated on change). Sets `req.principal`, or answers 401 with `WWW-Authenticate: Bearer`.
 */
export function createAuthenticator(deps: AuthenticatorDeps): RequestHandler {
  const { config, db, redis } = deps;
  const keys = deps.keys ?? loadVerifyKeys(config);
  const store = createTokenStateStore({ db, redis, prefix: config.REDIS_KEY_PREFIX, ttlSeconds: config.TOKEN_STATE_CACHE_SECONDS });
  const bearerToken = ExtractJwt.fromAuthHeaderAsBearerToken();
  const verifiedTokens = new VerifiedTokens(CLOCK_TOLERANCE_SECONDS);

  /** Well-formed claims of a verified token → the principal, or the reason it is refused. */
  const admit = (claims: Record<string, unknown>, done: VerifiedCallback) => {
    if (!isWellFormed(claims)) return done(null, false, new TokenRejected('invalid_token'));
    principalFor(claims, store).then(
      (result) => (result instanceof TokenRejected ? done(null, false, result) : done(null, result)),
      (err: unknown) => done(err),
    );
  };

  const passport = new Passport();
  passport.use(
    'jwt',
    new JwtStrategy(
      {
        jwtFromRequest: bearerToken,
        // A parsed KeyObject (jsonwebtoken accepts it): a PEM string would be parsed again on every request.
        // (the provider's type says string | Buffer; jsonwebtoken takes a KeyObject as well)
        secretOrKeyProvider: (_req, token, done) => {
          const key = keyForToken(keys, token);
          return key instanceof Error ? done(key) : done(null, key.key as unknown as Buffer);
        },
        algorithms: [...new Set(keys.all.map((key) => key.algorithm))],
        issuer: config.JWT_ISSUER,
        audience: config.JWT_AUDIENCE,
        jsonWebTokenOptions: { clockTolerance: CLOCK_TOLERANCE_SECONDS },
        passReqToCallback: true,
      },
      (req: Request, claims: Record<string, unknown>, done: VerifiedCallback) => {
        // verified just now with the key its header selects (secretOrKeyProvider above)
        const token = bearerToken(req);
        const key = token ? keyForToken(keys, token) : undefined;
        if (token && key && !(key instanceof Error) && isWellFormed(claims)) verifiedTokens.remember(token, key, claims);
        admit(claims, done);
      },
    ),
  );

  return (req, res, next) => {
    const settle = (err: unknown, principal: Principal | false, info: unknown) => {
      if (err) return next(err);
      if (!principal) {
        const code = info instanceof TokenRejected ? info.code : 'invalid_token';
        return next(new UnauthorizedError(code, code === 'invalid_token' ? 'Missing or invalid access token' : 'The access token is no longer valid'));
      }
      req.principal = principal;
      next();
    };
    const token = bearerToken(req);
    const key = token ? keyForToken(keys, token) : undefined;
    const claims = token && key && !(key instanceof Error) ? verifiedTokens.get(token, key) : undefined;
    if (claims) return admit(claims, (err, principal, info) => settle(err, principal as Principal | false, info));
    passport.authenticate('jwt', { session: false }, settle)(req, res, next);
  };
}
