import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { Webhook } from 'standardwebhooks';
import { SignatureVerifier, signingKeys } from './signature';

const secret = () => `whsec_${randomBytes(24).toString('base64')}`;
const NOW_MS = Date.UTC(2026, 10, 27, 12);
const NOW_S = NOW_MS / 1000;

/** Headers as a Standard Webhooks sender (the reference library) produces them. */
function signed(secretValue: string, id: string, timestampS: number, body: Buffer) {
  const signature = new Webhook(secretValue).sign(id, new Date(timestampS * 1000), body);
  return { 'webhook-id': id, 'webhook-timestamp': String(timestampS), 'webhook-signature': signature };
}

describe('SignatureVerifier (node:crypto HMAC) against the standardwebhooks reference library', () => {
  it('when any id and UTF-8 body are signed by the reference library, then the verifier accepts them', () => {
    const key = secret();
    const verifier = new SignatureVerifier(300);
    const keys = signingKeys(key);
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 64 }), fc.string({ unit: 'grapheme', maxLength: 2000 }), fc.integer({ min: -299, max: 299 }), (id, text, skew) => {
        const body = Buffer.from(text, 'utf8');
        expect(() => verifier.verify(signed(key, id, NOW_S + skew, body), body, NOW_MS, keys)).not.toThrow();
      }),
      { seed: 7, numRuns: 300 },
    );
  });

  it('when one byte of the body, the id or the timestamp differs from what was signed, then it is rejected', () => {
    const key = secret();
    const verifier = new SignatureVerifier(300);
    const keys = signingKeys(key);
    const body = Buffer.from(JSON.stringify({ event_id: 'evt_1', data: { name: 'Zoë' } }));
    const headers = signed(key, 'msg_1', NOW_S, body);
    const tampered = Buffer.from(body);
    tampered[5] ^= 1;
    expect(() => verifier.verify(headers, tampered, NOW_MS, keys)).toThrow(expect.objectContaining({ status: 401, code: 'invalid_signature' }));
    expect(() => verifier.verify({ ...headers, 'webhook-id': 'msg_2' }, body, NOW_MS, keys)).toThrow(expect.objectContaining({ code: 'invalid_signature' }));
    expect(() => verifier.verify({ ...headers, 'webhook-timestamp': String(NOW_S + 1) }, body, NOW_MS, keys)).toThrow(expect.objectContaining({ code: 'invalid_signature' }));
  });

  it('when two secrets are configured during a rotation, then a body signed with either verifies and a third is refused', () => {
    const [oldKey, newKey, otherKey] = [secret(), secret(), secret()];
    const verifier = new SignatureVerifier(300);
    const keys = signingKeys(`${oldKey} ${newKey}`);
    const body = Buffer.from('{"event_id":"evt_2"}');
    expect(() => verifier.verify(signed(oldKey, 'm', NOW_S, body), body, NOW_MS, keys)).not.toThrow();
    expect(() => verifier.verify(signed(newKey, 'm', NOW_S, body), body, NOW_MS, keys)).not.toThrow();
    expect(() => verifier.verify(signed(otherKey, 'm', NOW_S, body), body, NOW_MS, keys)).toThrow(expect.objectContaining({ code: 'invalid_signature' }));
  });

  it('when a secret decodes to no key bytes, then it is refused as a key', () => {
    expect(() => signingKeys('whsec_')).toThrow(/empty key/);
  });
});
