import { spawn } from 'node:child_process';
import path from 'node:path';
import { eventually, freePort, spawnTs, waitForExit } from '@saas/testing';

/** Who logs in at the test identity provider: the claims of their ID token. */
export interface IdpAccount {
  sub: string;
  email: string;
  email_verified: boolean;
  given_name?: string;
  family_name?: string;
}

export interface RunningProcess {
  url: string;
  stop(): Promise<void>;
}

async function stopChild(child: ReturnType<typeof spawn>): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await waitForExit(child);
}

/**
 * identity-service in its own process, from source: openid-client is ESM only, which the service loads with `import()`
 * (Node's require of ESM) but Jest's module system cannot (openid-client#777). Its callback URL is its own.
 */
export async function startIdentityProcess(env: Record<string, string | number | boolean> = {}): Promise<RunningProcess> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawnTs('apps/identity-service/src/main.ts', {
    IDENTITY_SERVICE_PORT: port,
    // identity-service's metrics listen on METRICS_PORT + 1
    METRICS_PORT: (await freePort()) - 1,
    SSO_CALLBACK_URL: `${url}/auth/sso/callback`,
    SSO_ALLOW_PRIVATE_ISSUERS: true,
    ...env,
  });
  try {
    await eventually(async () => (await fetch(`${url}/readyz`)).ok, 30000);
  } catch (err) {
    await stopChild(child);
    throw new Error(`identity-service did not start:\n${child.output()}`, { cause: err });
  }
  return { url, stop: () => stopChild(child) };
}

/** A real OpenID Provider (test/fixtures/oidc-provider.mjs) on a free loopback port, with one registered client. */
export async function startIdentityProvider(options: {
  client: { client_id: string; client_secret: string; redirect_uri: string };
  forgedJwks?: boolean;
}): Promise<RunningProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(__dirname, 'fixtures/oidc-provider.mjs')], {
    env: { ...process.env, OIDC_FIXTURE: JSON.stringify({ port, ...options }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr.on('data', (d) => (output += d));
  const ready = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      output += d;
      const issuer = /^ready (\S+)/m.exec(output)?.[1];
      if (issuer) resolve(issuer);
    });
    child.once('exit', (code) => reject(new Error(`the identity provider exited (${code}): ${output}`)));
  });
  return { url: await ready, stop: () => stopChild(child) };
}

export interface SsoAttempt {
  /** The URL the identity provider sent the browser back to (with `code` and `state`). */
  callbackUrl: string;
  state: string;
  status: number;
  body: Record<string, unknown>;
  location: string | null;
}

/**
 * A browser without a UI: follows redirects by hand, keeping the identity provider's cookies, through
 * GET /auth/sso/{slug} → the provider → its interaction (where the browser names `account`) → the callback.
 * `beforeCallback` runs once the provider has answered and before the browser reaches the callback.
 */
export async function signInThroughIdp(
  identityUrl: string,
  slug: string,
  account: IdpAccount,
  options: { redirectUri?: string; beforeCallback?: (state: string) => Promise<void> } = {},
): Promise<SsoAttempt> {
  const cookies = new Map<string, string>();
  const get = async (url: string) => {
    const res = await fetch(url, { redirect: 'manual', headers: { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') } });
    for (const cookie of res.headers.getSetCookie()) {
      const [pair = ''] = cookie.split(';');
      const at = pair.indexOf('=');
      cookies.set(pair.slice(0, at), pair.slice(at + 1));
    }
    return res;
  };
  const query = options.redirectUri ? `?redirect_uri=${encodeURIComponent(options.redirectUri)}` : '';
  const start = await get(`${identityUrl}/auth/sso/${slug}${query}`);
  if (start.status !== 302) throw new Error(`the login did not start: ${start.status} ${await start.text()}`);
  let next = new URL(start.headers.get('location')!);
  const state = next.searchParams.get('state')!;
  while (!next.href.startsWith(`${identityUrl}/auth/sso/callback`)) {
    if (next.pathname.startsWith('/interaction/')) next.searchParams.set('login', Buffer.from(JSON.stringify(account)).toString('base64url'));
    const res = await get(next.href);
    const location = res.headers.get('location');
    if (!location) throw new Error(`the identity provider stopped at ${next.href}: ${res.status} ${await res.text()}`);
    next = new URL(location, next);
  }
  await options.beforeCallback?.(state);
  return { ...(await callCallback(next.href)), callbackUrl: next.href, state };
}

/** The browser reaching the callback URL (again, for a replay). */
export async function callCallback(callbackUrl: string): Promise<Omit<SsoAttempt, 'callbackUrl' | 'state'>> {
  const res = await fetch(callbackUrl, { redirect: 'manual' });
  const body = /json/.test(res.headers.get('content-type') ?? '') ? ((await res.json()) as Record<string, unknown>) : {};
  return { status: res.status, body, location: res.headers.get('location') };
}
