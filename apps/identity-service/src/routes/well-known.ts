import { loadVerifyKeys, publicJwks } from '@saas/auth';
import { Joi } from '@saas/config';
import { ApiRouter } from '@saas/http';
import type { IdentityContext } from '../context';

export function wellKnownRoutes(ctx: IdentityContext): ApiRouter {
  const jwks = publicJwks(loadVerifyKeys(ctx.config));
  return new ApiRouter().add({
    method: 'get',
    path: '/.well-known/jwks.json',
    summary: 'The public keys that verify access tokens (JWKS)',
    tags: ['auth'],
    security: 'none',
    responses: { 200: { description: 'The key set', schema: Joi.object({ keys: Joi.array().items(Joi.object().unknown(true)) }).label('JWKS') } },
    handler: (_req, res) => {
      res.set('Cache-Control', 'public, max-age=300').json(jwks);
    },
  });
}
