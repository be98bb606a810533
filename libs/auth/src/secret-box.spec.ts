import { randomBytes } from 'node:crypto';
import { SecretBox } from './secret-box';

const key = () => randomBytes(32).toString('base64');

describe('SecretBox', () => {
  it('when a secret is sealed, then it opens with the same key and context, and the stored form holds no plaintext', () => {
    const box = new SecretBox(key());
    const sealed = box.seal('whsec_top-secret', 'source-1');
    expect(sealed).not.toContain('top-secret');
    expect(sealed).not.toContain(Buffer.from('whsec_top-secret').toString('base64'));
    expect(box.open(sealed, 'source-1')).toBe('whsec_top-secret');
  });

  it('when the same secret is sealed twice, then the ciphertexts differ (a fresh IV each time)', () => {
    const box = new SecretBox(key());
    expect(box.seal('same', 'ctx')).not.toBe(box.seal('same', 'ctx'));
  });

  it('when a ciphertext is opened in another context, with another key or altered, then it refuses', () => {
    const box = new SecretBox(key());
    const sealed = box.seal('whsec_abc', 'source-1');
    expect(() => box.open(sealed, 'source-2')).toThrow();
    expect(() => new SecretBox(key()).open(sealed, 'source-1')).toThrow();
    const [v, iv, tag, ct] = sealed.split('.') as [string, string, string, string];
    const flipped = Buffer.from(ct, 'base64url');
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    expect(() => box.open([v, iv, tag, flipped.toString('base64url')].join('.'), 'source-1')).toThrow();
    expect(() => box.open('garbage', 'source-1')).toThrow('not a sealed secret');
  });

  it('when the key is not 32 bytes, then construction fails', () => {
    expect(() => new SecretBox(randomBytes(16).toString('base64'))).toThrow('32 bytes');
  });
});
