import { generateKeyPairSync } from 'node:crypto';
import type { VerifyKey } from './keys';
import { VerifiedTokens } from './verified-tokens';

const keyPair = (kid: string): VerifyKey => {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { pem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), key: publicKey, algorithm: 'ES256', kid };
};
const [keyA, keyB] = [keyPair('a'), keyPair('b')];
const nowSeconds = () => Math.floor(Date.now() / 1000);

describe('VerifiedTokens (tokens that passed verification, until they expire)', () => {
  it('when a token passed with a key, then it is known with that key and no other', () => {
    const tokens = new VerifiedTokens(5);
    const claims = { sub: 'u', exp: nowSeconds() + 60 };
    tokens.remember('token-1', keyA, claims);
    expect(tokens.get('token-1', keyA)).toBe(claims);
    expect(tokens.get('token-1', keyB)).toBeUndefined();
    expect(tokens.get('token-2', keyA)).toBeUndefined();
  });

  it('when its exp plus the tolerance has passed, then it is verified again (not answered from memory)', () => {
    const tokens = new VerifiedTokens(5);
    tokens.remember('within-tolerance', keyA, { exp: nowSeconds() - 2 });
    tokens.remember('expired', keyA, { exp: nowSeconds() - 6 });
    expect(tokens.get('within-tolerance', keyA)).toBeDefined();
    expect(tokens.get('expired', keyA)).toBeUndefined();
  });

  it('when a token has no exp, then it is never kept', () => {
    const tokens = new VerifiedTokens(5);
    tokens.remember('no-exp', keyA, { sub: 'u' });
    expect(tokens.get('no-exp', keyA)).toBeUndefined();
  });

  it('when it is full, then the oldest entry goes first', () => {
    const tokens = new VerifiedTokens(5, 2);
    const exp = nowSeconds() + 60;
    for (const token of ['first', 'second', 'third']) tokens.remember(token, keyA, { exp });
    expect(['first', 'second', 'third'].map((token) => tokens.get(token, keyA) !== undefined)).toEqual([false, true, true]);
  });
});
