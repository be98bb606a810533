import { Strategy as JwtStrategy } from 'passport-jwt';

type Payload = Record<string, unknown>;
type VerifyDone = (err: Error | null, payload?: Payload) => void;
/** passport-jwt's options for jsonwebtoken; `clockTolerance` comes from the strategy's `jsonWebTokenOptions`. */
type VerifyOptions = { clockTolerance?: number };
type JwtVerifier = (token: string, key: unknown, options: VerifyOptions, done: VerifyDone) => void;

interface Verified {
  key: unknown;
  options: VerifyOptions;
  payload: Payload;
  /** `exp` plus the clock tolerance, in ms: after it, the token is verified again (and refused). */
  validUntilMs: number;
}

/** Enough for every token in use on one instance at a time; the oldest entry goes first. */
const MAX_ENTRIES = 10_000;
const memo = new Map<string, Verified>();

/**
 * The signature and claim checks of a token give the same answer every time until it expires, and an RSA/ECDSA
 * verification is the costliest step of an authenticated request. passport-jwt verifies through its
 * `JwtStrategy.JwtVerifier` hook; wrapped here, a token string that already passed with the same key and options
 * is answered from memory until its `exp` (+ tolerance). Only passes are kept: a forged or altered token is another
 * string and always meets the real verifier. Revocation is not affected: token state is checked on every request.
 */
export function memoizeVerifiedTokens(): void {
  const statics = JwtStrategy as unknown as { JwtVerifier: JwtVerifier & { memoized?: true } };
  if (statics.JwtVerifier.memoized) return;
  const verify = statics.JwtVerifier;
  const memoized: JwtVerifier = (token, key, options, done) => {
    const known = memo.get(token);
    if (known && known.key === key && known.options === options && Date.now() < known.validUntilMs) return done(null, known.payload);
    verify(token, key, options, (err, payload) => {
      if (!err && payload && typeof payload['exp'] === 'number') {
        const oldest = memo.keys().next();
        if (memo.size >= MAX_ENTRIES && !oldest.done) memo.delete(oldest.value);
        memo.set(token, { key, options, payload, validUntilMs: (payload['exp'] + (options.clockTolerance ?? 0)) * 1000 });
      }
      done(err, payload);
    });
  };
  statics.JwtVerifier = Object.assign(memoized, { memoized: true as const });
}
