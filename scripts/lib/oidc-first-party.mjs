// Shared by `npm run dev:idp` and the SSO tests' provider (apps/identity-service/test/fixtures/oidc-provider.mjs), so
// the provider a newcomer clicks through behaves as the one the tests drive.

/** The claims identity-service asks for: `sub`, the email and whether it is verified, the names. */
export const CLAIMS = { openid: ['sub'], email: ['email', 'email_verified'], profile: ['given_name', 'family_name'] };

/** oidc-provider's `loadExistingGrant` for a first-party client: consent is implied, no consent screen. */
export async function firstPartyGrant(ctx) {
  const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
  if (grantId) return ctx.oidc.provider.Grant.find(grantId);
  const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
  grant.addOIDCScope('openid email profile');
  await grant.save();
  return grant;
}
