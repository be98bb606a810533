import { keysetCursor, seqCursor } from './pagination';

const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const ID = '5b0e7f7c-6c1e-4c47-9d8e-0e8f3f1d2a10';
const at = (ts: string) => encode({ ts, id: ID });

// (every list endpoint is tried with every forged form through HTTP: libs/testing FORGED_CURSORS)
describe('cursors', () => {
  it('when a keyset cursor names an impossible or out-of-range instant, then it is refused before any SQL', () => {
    for (const ts of ['2026-13-45T25:61:61.000000Z', '2026-02-30T00:00:00.000000Z', '0000-01-01T00:00:00.000000Z', '1969-12-31T23:59:59.999999Z']) {
      expect(keysetCursor.validate(at(ts)).error).toBeDefined();
    }
    expect(keysetCursor.validate(at('2026-02-28T23:59:59.999999Z')).value).toEqual({ ts: '2026-02-28T23:59:59.999999Z', id: ID });
  });

  it('when a sequence cursor is beyond a bigint, then it is refused; the largest bigint is taken', () => {
    expect(seqCursor.validate(encode('9223372036854775808')).error).toBeDefined();
    expect(seqCursor.validate(encode('9223372036854775807')).value).toBe('9223372036854775807');
  });
});
