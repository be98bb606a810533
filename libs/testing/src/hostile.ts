const base64url = (text: string) => Buffer.from(text).toString('base64url');
/** A cursor as the API encodes one: base64url of JSON. */
const encode = (value: unknown) => base64url(JSON.stringify(value));
const ID = '5b0e7f7c-6c1e-4c47-9d8e-0e8f3f1d2a10';

/**
 * Every way a client can hand back a list cursor the API did not issue: each must answer 422, never reach SQL. The
 * forms of both cursor kinds (a timestamp and id, or a bigint sequence), so each list is tried with all of them.
 */
export const FORGED_CURSORS: Record<string, string> = {
  'bad base64': '!!!not-base64!!!',
  'bad JSON': base64url('{"ts": '),
  'not an object': encode('a string'),
  'impossible date': encode({ ts: '2026-13-45T25:61:61.000000Z', id: ID }),
  'February 30': encode({ ts: '2026-02-30T00:00:00.000000Z', id: ID }),
  'year 0000': encode({ ts: '0000-01-01T00:00:00.000000Z', id: ID }),
  'not a uuid': encode({ ts: '2026-01-01T00:00:00.000000Z', id: 'x' }),
  'sequence out of range': encode('9999999999999999999'),
  'sequence too long': encode('99999999999999999999'),
};

/** JSON bodies whose keys reach prototype machinery: each must answer 422 `forbidden_key`. */
export const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype'] as const;

/** `body` with `key` added at its top level and nested one level down, as raw JSON text (a literal `__proto__` key survives only as text). */
export const withForbiddenKey = (body: Record<string, unknown>, key: string, nested = false) => {
  const json = JSON.stringify(body);
  const entry = nested ? `"meta": {"${key}": {"isAdmin": true}}` : `"${key}": {"isAdmin": true}`;
  return json === '{}' ? `{${entry}}` : `{${entry}, ${json.slice(1)}`;
};
