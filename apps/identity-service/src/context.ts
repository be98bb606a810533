import type { Request, RequestHandler } from 'express';
import type { IdentityServiceConfig } from '@saas/config';
import { createAuthenticator, createTokenSigner, invalidateOrgTokenState, invalidateTokenState, type TokenSigner } from '@saas/auth';
import { createPasswordVerifier, type Actor } from '@saas/identity';
import { requirePrincipal, type Principal } from '@saas/rbac';
import type { ServiceRuntime } from '@saas/runtime';
import { createActivationThrottle, createLoginThrottle, type ActivationThrottle, type LoginThrottle } from './throttle';

/** What identity-service's routes share: the runtime's connections plus the signing key and the authenticator. */
export interface IdentityContext {
  runtime: ServiceRuntime<IdentityServiceConfig>;
  config: IdentityServiceConfig;
  signer: TokenSigner;
  authenticate: RequestHandler;
  /** Failed-login counters per account and per address (also guards password changes). */
  throttle: LoginThrottle;
  /** Failed invite activations per address: bounds token guessing and the look-ups it causes. */
  activationThrottle: ActivationThrottle;
  verifyPassword: (password: string, hash: string | null | undefined) => Promise<boolean>;
  /** Clears cached token state after a commit that revoked tokens (a user's, or every member's of an organization). */
  invalidate(target: { userId?: string; orgId?: string }): Promise<void>;
}

export function createIdentityContext(runtime: ServiceRuntime<IdentityServiceConfig>): IdentityContext {
  const { config, db, redis, logger } = runtime;
  const prefix = config.REDIS_KEY_PREFIX;
  return {
    runtime,
    config,
    signer: createTokenSigner(config),
    authenticate: createAuthenticator({ config, db, redis }),
    throttle: createLoginThrottle({
      redis,
      prefix,
      maxPerAccount: config.LOGIN_MAX_FAILURES_PER_ACCOUNT,
      maxPerIp: config.LOGIN_MAX_FAILURES_PER_IP,
      windowSeconds: config.LOGIN_FAILURE_WINDOW_SECONDS,
    }),
    activationThrottle: createActivationThrottle({
      redis,
      prefix,
      maxPerIp: config.ACTIVATION_MAX_FAILURES_PER_IP,
      windowSeconds: config.LOGIN_FAILURE_WINDOW_SECONDS,
    }),
    verifyPassword: createPasswordVerifier(config.BCRYPT_COST),
    async invalidate({ userId, orgId }) {
      try {
        if (userId) await invalidateTokenState(redis, prefix, userId);
        if (orgId) await invalidateOrgTokenState(redis, prefix, orgId);
      } catch (err) {
        // The change is committed; the cached state expires within TOKEN_STATE_CACHE_SECONDS.
        logger.error({ err, userId, orgId }, 'could not clear cached token state');
      }
    },
  };
}

/** The authenticated caller of a guarded route. */
export const principalOf = (req: Request): Principal => requirePrincipal(req.principal);

/** The audit actor of a request: its authenticated user (or the system), its request id and client address. */
export function actorOf(req: Request): Actor {
  return { actorType: req.principal ? 'user' : 'system', actorId: req.principal?.userId ?? null, requestId: String(req.id), ip: req.ip ?? null };
}
