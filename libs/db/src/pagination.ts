import { literal, Op, type WhereOptions } from 'sequelize';
import { Joi } from '@saas/config';
import { isUuid } from './errors';

/**
 * Keyset pagination shared by every list: newest first on (timestamp column, id), or on a bigint sequence.
 * Cursors are opaque base64url tokens this API issued; a forged one fails validation (422).
 */
export interface KeysetCursor {
  ts: string;
  id: string;
}

export type KeysetColumn = 'created_at' | 'received_at';

const TS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const MAX_BIGINT = 2n ** 63n - 1n;

/**
 * A cursor timestamp that names a real instant PostgreSQL can compare (`2026-13-45T…` has the form, not a meaning,
 * and would fail in the database as a 500): its millisecond part reads back unchanged through Date, year 1970–9999.
 */
function isCursorTimestamp(value: unknown): value is string {
  if (typeof value !== 'string' || !TS.test(value)) return false;
  const millis = `${value.slice(0, 23)}Z`;
  const date = new Date(millis);
  return !Number.isNaN(date.getTime()) && date.toISOString() === millis && date.getUTCFullYear() >= 1970;
}

export const encodeCursor = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

function decodeCursor(raw: string): unknown {
  if (!/^[A-Za-z0-9_-]*$/.test(raw)) return undefined;
  try {
    return JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

/** `cursor` of lists ordered by (timestamp, id). */
export const keysetCursor = Joi.string()
  .max(200)
  .custom((raw: string, helpers) => {
    const value = decodeCursor(raw) as Partial<KeysetCursor> | undefined;
    if (!value || typeof value !== 'object' || !isCursorTimestamp(value.ts) || !isUuid(value.id)) return helpers.error('cursor.invalid');
    return { ts: value.ts, id: value.id };
  })
  .messages({ 'cursor.invalid': '{{#label}} is not a cursor this API issued' });

/** `cursor` of lists ordered by a bigint sequence. */
export const seqCursor = Joi.string()
  .max(100)
  .custom((raw: string, helpers) => {
    const value = decodeCursor(raw);
    // a bigint sequence: at most 2^63 - 1, or PostgreSQL refuses the comparison (a 500, not the client's 422)
    return typeof value === 'string' && /^\d{1,19}$/.test(value) && BigInt(value) <= MAX_BIGINT ? value : helpers.error('cursor.invalid');
  })
  .messages({ 'cursor.invalid': '{{#label}} is not a cursor this API issued' });

/** `limit` of every list (docs/API.md "Pagination": 1–200, default 50). */
export const limitParam = Joi.number().integer().min(1).max(200).default(50);

/** SQL for the ordering column with its full (microsecond) precision, so a cursor never skips or repeats rows. */
export const keysetExpression = (column: KeysetColumn) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** `keysetExpression` selected as `cursor_ts`. */
export const keysetAttribute = (column: KeysetColumn): [ReturnType<typeof literal>, string] => [literal(keysetExpression(column)), 'cursor_ts'];

/** SQL selecting rows strictly after the cursor, each of its values written by `value` (a literal or a bind placeholder). */
export const afterKeysetCondition = (column: KeysetColumn, cursor: KeysetCursor, value: (v: string) => string) =>
  `(${column}, id) < (${value(cursor.ts)}::timestamptz, ${value(cursor.id)}::uuid)`;

/** Conditions (for an `Op.and` list) selecting rows strictly after the cursor; its values were validated by `keysetCursor`. */
export function afterKeyset(column: KeysetColumn, cursor: KeysetCursor | undefined): WhereOptions[] {
  return cursor ? [literal(afterKeysetCondition(column, cursor, (v) => `'${v}'`))] : [];
}

/** The cursor of a row fetched with `keysetAttribute`. */
export const keysetOf = (row: { id: string; get(key: 'cursor_ts'): unknown }) => ({ ts: row.get('cursor_ts'), id: row.id });

/** One page: at most `limit` items (rows were fetched with limit + 1) and the next page's cursor, or null at the end. */
export function pageOf<T, R>(rows: T[], limit: number, cursorOf: (row: T) => unknown, map: (row: T) => R): { items: R[]; next_cursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items: items.map(map), next_cursor: rows.length > limit && last !== undefined ? encodeCursor(cursorOf(last)) : null };
}

/** A `since`/`until` range on a column (until exclusive). */
export function timeRange(column: string, since?: Date, until?: Date): WhereOptions {
  if (!since && !until) return {};
  return { [column]: { ...(since ? { [Op.gte]: since } : {}), ...(until ? { [Op.lt]: until } : {}) } };
}

/** An ILIKE pattern matching `q` anywhere, with the caller's wildcards taken literally. */
export const likePattern = (q: string) => `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/**
 * Between the fields of `users.search` (migration 0006: `chr(31)`, the unit separator). A q without it matches that
 * column exactly where it matches one of the fields; a q with it could match across two, so it is searched field by field.
 */
export const SEARCH_FIELD_SEPARATOR = String.fromCharCode(31);

/** The list filters that are set, as equality conditions by column (`fields` are column names). */
export function equalities(filter: object, fields: string[]): WhereOptions {
  const values = filter as Record<string, unknown>;
  return Object.fromEntries(fields.filter((f) => values[f] !== undefined).map((f) => [f, values[f]]));
}
