import type { VerifyKey } from './keys';

type Claims = Record<string, unknown>;

interface Verified {
  key: VerifyKey;
  claims: Claims;
  /** `exp` plus the clock tolerance, in ms: after it the token is verified again (and refused). */
  validUntilMs: number;
}

/**
 * Access tokens that passed passport-jwt's verification, by token string. The signature and claim checks of a token
 * give the same answer every time until it expires, and an RSA/ECDSA verification is the costliest step of an
 * authenticated request; so the authenticator looks a token up here first and verifies only what it has not seen.
 * Only passes are kept: a forged or altered token is another string and always meets the real verification. A hit
 * needs the key its header selects now to be the key it passed with. Revocation is not affected: the token's state
 * (user, version, organization) is checked on every request. The oldest entry goes first past `maxEntries`.
 */
export class VerifiedTokens {
  private readonly entries = new Map<string, Verified>();

  constructor(
    private readonly clockToleranceSeconds: number,
    private readonly maxEntries = 10_000,
  ) {}

  /** The claims `token` passed with, if it passed with `key` and has not expired since. */
  get(token: string, key: VerifyKey): Claims | undefined {
    const known = this.entries.get(token);
    return known && known.key === key && Date.now() < known.validUntilMs ? known.claims : undefined;
  }

  /** Remembers a token that passed verification with `key`, until its `exp` (a token without one is not kept). */
  remember(token: string, key: VerifyKey, claims: Claims): void {
    if (typeof claims['exp'] !== 'number') return;
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(token, { key, claims, validUntilMs: (claims['exp'] + this.clockToleranceSeconds) * 1000 });
  }
}
