// A development OpenID Provider (panva's oidc-provider) for trying single sign-on locally: `npm run dev:idp`.
// Its login page (oidc-provider's development interactions) accepts any password; log in as `alice` (verified
// alice@example.com) or `bob` (bob@example.com, unverified: identity-service refuses him). State lives in memory.
// DEV_IDP_PORT (9400) and SSO_CALLBACK_URL (http://localhost:8000/auth/sso/callback) can be overridden.
import { randomUUID } from 'node:crypto';
import Provider from 'oidc-provider';
import { CLAIMS, firstPartyGrant } from './lib/oidc-first-party.mjs';

const port = Number(process.env.DEV_IDP_PORT ?? 9400);
const callbackUrl = process.env.SSO_CALLBACK_URL ?? 'http://localhost:8000/auth/sso/callback';
const issuer = `http://localhost:${port}`;
const client = { client_id: 'saas-dev', client_secret: 'saas-dev-client-secret' };
const accounts = {
  alice: { email: 'alice@example.com', email_verified: true, given_name: 'Alice', family_name: 'Example' },
  bob: { email: 'bob@example.com', email_verified: false, given_name: 'Bob', family_name: 'Example' },
};

const provider = new Provider(issuer, {
  clients: [{ ...client, redirect_uris: [callbackUrl], grant_types: ['authorization_code'], response_types: ['code'] }],
  cookies: { keys: [randomUUID()] },
  claims: CLAIMS,
  findAccount: (_ctx, sub) => (accounts[sub] ? { accountId: sub, claims: () => ({ sub, ...accounts[sub] }) } : undefined),
  loadExistingGrant: firstPartyGrant,
});

provider.listen(port, '127.0.0.1', () => {
  console.log(`Development identity provider: ${issuer}
  client_id:     ${client.client_id}
  client_secret: ${client.client_secret}
  redirect URI:  ${callbackUrl}
  accounts:      alice (alice@example.com, verified), bob (bob@example.com, unverified); any password

identity-service must accept a loopback issuer: start the platform with SSO_ALLOW_PRIVATE_ISSUERS=true npm start

Configure an organization (ORG_ID, and TOKEN of its admin or the superadmin from POST /users/login):
  curl -s -X PUT localhost:8000/orgs/$ORG_ID/sso -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \\
    -d '{"issuer":"${issuer}","client_id":"${client.client_id}","client_secret":"${client.client_secret}","allowed_domains":["example.com"],"jit_provisioning":true}'
Then open http://localhost:8000/auth/sso/<org slug> in a browser and log in as alice.`);
});
