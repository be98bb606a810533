import { literal, Op, type WhereOptions } from 'sequelize';
import { Joi } from '@saas/config';
import { isUuid } from '@saas/db';

/** Keyset position (created_at with microseconds, id) of the last item of a page, newest first. */
export interface CreatedCursor {
  ts: string;
  id: string;
}

const TS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

export const encodeCursor = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

function decode(raw: string): unknown {
  try {
    return JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

/** `cursor` query parameter of lists ordered by (created_at, id): an opaque token; a forged one answers 422. */
export const createdCursor = Joi.string()
  .max(200)
  .custom((raw: string, helpers) => {
    const value = decode(raw) as Partial<CreatedCursor> | undefined;
    if (!value || typeof value.ts !== 'string' || !TS.test(value.ts) || !isUuid(value.id)) return helpers.error('cursor.invalid');
    return { ts: value.ts, id: value.id };
  })
  .messages({ 'cursor.invalid': '{{#label}} is not a cursor this API issued' });

/** `cursor` of lists ordered by a bigint sequence. */
export const seqCursor = Joi.string()
  .max(100)
  .custom((raw: string, helpers) => {
    const value = decode(raw);
    return typeof value === 'string' && /^\d{1,19}$/.test(value) ? value : helpers.error('cursor.invalid');
  })
  .messages({ 'cursor.invalid': '{{#label}} is not a cursor this API issued' });

/** created_at rendered with its full (microsecond) precision, so a cursor never skips or repeats rows. */
export const CURSOR_TS_ATTRIBUTE: [ReturnType<typeof literal>, string] = [
  literal(`to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`),
  'cursor_ts',
];

/** Rows strictly after the cursor, newest first. Values are validated by `createdCursor` before they reach SQL. */
export function afterCreatedCursor(cursor: CreatedCursor | undefined): WhereOptions {
  if (!cursor) return {};
  return { [Op.and]: [literal(`(created_at, id) < ('${cursor.ts}'::timestamptz, '${cursor.id}'::uuid)`)] };
}

/** One page: at most `limit` items and the cursor of the next page (null at the end). */
export function pageOf<T, R>(rows: T[], limit: number, cursorOf: (row: T) => unknown, map: (row: T) => R): { items: R[]; next_cursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items: items.map(map), next_cursor: rows.length > limit && last !== undefined ? encodeCursor(cursorOf(last)) : null };
}

/** An ILIKE pattern matching `q` anywhere, with the caller's wildcards taken literally. */
export const likePattern = (q: string) => `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
