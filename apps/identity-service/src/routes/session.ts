import type { RequestHandler } from 'express';
import { Joi } from '@saas/config';
import { findOrganization, findUserByEmail } from '@saas/db';
import { ApiRouter, UnauthorizedError, ValidationError } from '@saas/http';
import { activateMember, assertInviteUsable, audit, consumeInvite, hashPassword, presentedPasswordSchema, ssoRequiredFor } from '@saas/identity';
import { actorOf, type IdentityContext } from '../context';
import { email, invalid, newPasswordSchema, tokenResponse } from '../schemas';

const loginJson = Joi.object({ email: email.required(), password: presentedPasswordSchema.required() }).label('LoginRequest');
const loginForm = Joi.object({
  username: email.required(),
  password: presentedPasswordSchema.required(),
  grant_type: Joi.string().valid('password'),
  // sent by OAuth2 clients such as Swagger UI's "Authorize" dialog; no scopes exist
  scope: Joi.string().allow(''),
  client_id: Joi.string().allow(''),
  client_secret: Joi.string().allow(''),
});

const VALIDATION = { abortEarly: false, errors: { wrap: { label: false as const } } };

/** An OAuth2 password-grant form becomes the JSON login body (`username` is the email); JSON passes through. */
const acceptOAuth2Form: RequestHandler = (req, _res, next) => {
  if (!req.is('application/x-www-form-urlencoded')) return next();
  const { error, value } = loginForm.validate({ ...(req.body as object) }, VALIDATION);
  if (error) throw new ValidationError(error.details.map((d) => ({ path: d.path.join('.'), message: d.message })));
  req.body = { email: value.username, password: value.password };
  next();
};

type FailureReason = 'unknown_email' | 'no_password' | 'wrong_password' | 'user_not_active' | 'organization_not_active' | 'sso_required';

/** The organization signs its users in through its identity provider only (`enforce_sso`); superadmins are never concerned. */
const ssoRequired = () => new UnauthorizedError('sso_required', "Sign in through your organization's single sign-on");

export function sessionRoutes(ctx: IdentityContext): ApiRouter {
  const { db } = ctx.runtime;
  const { throttle, activationThrottle } = ctx;

  const login: RequestHandler = async (req, res) => {
    const { email: address, password } = req.body as { email: string; password: string };
    const attempt = await throttle.reserve(address, req.ip ?? 'unknown');
    const found = await db.asSystem('login by email', async (transaction) => {
      const user = await findUserByEmail(transaction, address);
      const org = user?.org_id ? await findOrganization(transaction, user.org_id) : null;
      return { user, org, ssoOnly: user ? await ssoRequiredFor(transaction, user) : false };
    });
    const { user, org, ssoOnly } = found;
    // Always one bcrypt comparison (against a dummy hash when there is no user or password): same timing for every failure.
    const passwordOk = await ctx.verifyPassword(password, user?.password_hash);
    let reason: FailureReason | undefined;
    if (!user) reason = 'unknown_email';
    else if (!user.password_hash) reason = 'no_password';
    else if (!passwordOk) reason = 'wrong_password';
    else if (user.status !== 'active') reason = 'user_not_active';
    else if (user.org_id && org?.status !== 'active') reason = 'organization_not_active';
    // only once the password is right: the answer must not tell which accounts exist
    else if (ssoOnly) reason = 'sso_required';
    if (!user || reason) {
      await db.asSystem('audit a failed login', (tx) =>
        audit(tx, actorOf(req), {
          orgId: user?.org_id ?? null,
          action: 'user.login_failed',
          targetType: 'user',
          targetId: user?.id ?? null,
          metadata: { email: address, reason },
        }),
      );
      throw reason === 'sso_required' ? ssoRequired() : new UnauthorizedError('invalid_credentials', 'Invalid email or password');
    }
    await attempt.release();
    res.json(ctx.signer.sign(user));
  };

  const activate: RequestHandler = async (req, res) => {
    const { token, password } = req.body as { token: string; password: string };
    const attempt = await activationThrottle.reserve(req.ip ?? 'unknown');
    // An unusable token is refused before bcrypt, so guessing costs a look-up, not a hash; no transaction stays open
    // while the hash is computed.
    await db.asSystem('check an invite token before hashing the password', (tx) => assertInviteUsable(tx, token));
    const passwordHash = await hashPassword(password, ctx.config.BCRYPT_COST);
    const user = await db.asSystem('activate an account by its invite token', async (tx) => {
      const pending = await consumeInvite(tx, token);
      // thrown in the transaction: the invite stays unused
      if (await ssoRequiredFor(tx, pending)) throw ssoRequired();
      return activateMember(tx, pending, passwordHash, { requestId: String(req.id), ip: req.ip ?? null });
    });
    await attempt.release();
    res.json(ctx.signer.sign(user));
  };

  return new ApiRouter()
    .add({
      method: 'post',
      path: '/users/login',
      summary: 'Log in with email and password',
      description:
        'JSON `{email, password}`, or an OAuth2 password-grant form (`username`, `password`, optional `grant_type=password`). ' +
        'Every failure (unknown email, wrong password, no password, inactive user or organization) answers the same 401. ' +
        'Too many failures per account or per address answer 429 with Retry-After.',
      tags: ['auth'],
      security: 'none',
      guards: [acceptOAuth2Form],
      request: { body: loginJson },
      requestBodyDoc: {
        required: true,
        content: {
          'application/json': { schema: { type: 'object', required: ['email', 'password'], properties: { email: { type: 'string', format: 'email' }, password: { type: 'string', format: 'password' } } } },
          'application/x-www-form-urlencoded': {
            schema: {
              type: 'object',
              required: ['username', 'password'],
              properties: { username: { type: 'string' }, password: { type: 'string', format: 'password' }, grant_type: { type: 'string', enum: ['password'] } },
            },
          },
        },
      },
      responses: {
        200: { description: 'An access token', schema: tokenResponse },
        401: { description: 'invalid_credentials; sso_required (the organization enforces single sign-on; told only once the password is right)' },
        ...invalid,
        429: { description: 'Too many failed logins', headers: { 'Retry-After': { description: 'seconds to wait' } } },
        503: { description: 'The login throttle (Redis) is unavailable: logins fail closed' },
      },
      handler: login,
    })
    .add({
      method: 'post',
      path: '/users/activate',
      summary: 'Accept an invite: set the password and activate the account',
      description: 'Too many failed activations (unusable tokens) per address answer 429 with Retry-After.',
      tags: ['auth'],
      security: 'none',
      request: { body: Joi.object({ token: Joi.string().max(200).required(), password: newPasswordSchema.required() }).label('ActivateRequest') },
      responses: {
        200: { description: 'Activated; an access token as from login', schema: tokenResponse },
        400: { description: 'The invite token is unknown, used or expired' },
        401: { description: 'sso_required: the organization enforces single sign-on (the invite stays unused)' },
        ...invalid,
        429: { description: 'Too many failed activations', headers: { 'Retry-After': { description: 'seconds to wait' } } },
        503: { description: 'The activation throttle (Redis) is unavailable: activations fail closed' },
      },
      handler: activate,
    });
}
