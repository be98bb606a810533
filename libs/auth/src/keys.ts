import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { JwtSignConfig, JwtVerifyConfig } from '@saas/config';

export type JwtAlgorithm = 'RS256' | 'ES256';

export interface VerifyKey {
  /** PEM (SPKI) of the public key. */
  pem: string;
  key: KeyObject;
  /** The one algorithm tokens signed with this key may use: the allowlist. */
  algorithm: JwtAlgorithm;
  /** RFC 7638 JWK thumbprint, the tokens' `kid`. */
  kid: string;
}

export interface SigningKey extends VerifyKey {
  privateKey: KeyObject;
}

function readKeyFile(dir: string, file: string, variable: string): string {
  const location = path.resolve(dir, file);
  if (!existsSync(location)) {
    throw new Error(`${variable} is not set and ${location} does not exist (JWT_KEYS_DIR); \`npm start\` generates a development pair there`);
  }
  return readFileSync(location, 'utf8');
}

function algorithmOf(key: KeyObject): JwtAlgorithm {
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  throw new Error(`unsupported JWT key type ${key.asymmetricKeyType}: use RSA (RS256) or EC P-256 (ES256)`);
}

function thumbprint(jwk: Record<string, unknown>): string {
  const members = jwk['kty'] === 'EC' ? ['crv', 'kty', 'x', 'y'] : ['e', 'kty', 'n'];
  const canonical = JSON.stringify(Object.fromEntries(members.map((m) => [m, jwk[m]])));
  return createHash('sha256').update(canonical).digest('base64url');
}

function verifyKeyOf(key: KeyObject): VerifyKey {
  return {
    pem: key.export({ type: 'spki', format: 'pem' }).toString(),
    key,
    algorithm: algorithmOf(key),
    kid: thumbprint(key.export({ format: 'jwk' }) as Record<string, unknown>),
  };
}

/** The public key every service verifies tokens with: JWT_PUBLIC_KEY, else JWT_KEYS_DIR/jwt-public.pem. */
export function loadVerifyKey(config: JwtVerifyConfig): VerifyKey {
  const pem = config.JWT_PUBLIC_KEY ?? readKeyFile(config.JWT_KEYS_DIR, 'jwt-public.pem', 'JWT_PUBLIC_KEY');
  return verifyKeyOf(createPublicKey(pem));
}

const PEM_BLOCK = /-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g;

/**
 * The keys tokens may be signed with, selected by the token's `kid`: the current key (JWT_PUBLIC_KEY), then the
 * retired or upcoming ones of JWT_ACCEPTED_PUBLIC_KEYS, so keys rotate without invalidating tokens (README, "Rotate
 * JWT keys").
 */
export interface VerifyKeySet {
  current: VerifyKey;
  /** Every accepted key, the current one first. */
  all: VerifyKey[];
  byKid: ReadonlyMap<string, VerifyKey>;
}

export function loadVerifyKeys(config: JwtVerifyConfig): VerifyKeySet {
  const current = loadVerifyKey(config);
  const others = [...(config.JWT_ACCEPTED_PUBLIC_KEYS ?? '').matchAll(PEM_BLOCK)].map(([pem]) => verifyKeyOf(createPublicKey(pem)));
  const byKid = new Map<string, VerifyKey>();
  for (const key of [current, ...others]) if (!byKid.has(key.kid)) byKid.set(key.kid, key);
  return { current, all: [...byKid.values()], byKid };
}

/** identity-service's signing key: JWT_PRIVATE_KEY, else JWT_KEYS_DIR/jwt-private.pem; it must match the public key. */
export function loadSigningKey(config: JwtSignConfig & JwtVerifyConfig): SigningKey {
  const pem = config.JWT_PRIVATE_KEY ?? readKeyFile(config.JWT_KEYS_DIR, 'jwt-private.pem', 'JWT_PRIVATE_KEY');
  const privateKey = createPrivateKey(pem);
  const derived = verifyKeyOf(createPublicKey(privateKey));
  const configured = config.JWT_PUBLIC_KEY ?? (existsSync(path.resolve(config.JWT_KEYS_DIR, 'jwt-public.pem')) ? loadVerifyKey(config).pem : undefined);
  if (configured !== undefined && verifyKeyOf(createPublicKey(configured)).kid !== derived.kid) {
    throw new Error('JWT_PRIVATE_KEY and JWT_PUBLIC_KEY are not a pair: services would refuse every token');
  }
  return { ...derived, privateKey };
}

/** The JSON Web Key Set published at /.well-known/jwks.json: every accepted key, the current (signing) one first. */
export function publicJwks(keys: VerifyKeySet): { keys: Record<string, unknown>[] } {
  return { keys: keys.all.map((key) => ({ ...(key.key.export({ format: 'jwk' }) as Record<string, unknown>), kid: key.kid, alg: key.algorithm, use: 'sig' })) };
}
