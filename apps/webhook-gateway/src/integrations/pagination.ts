import { literal, Op, type WhereOptions } from 'sequelize';
import { Joi } from '@saas/config';
import { isUuid } from '@saas/db';

/** Keyset position of the last item of a page, newest first: a timestamp with microseconds, and the id. */
export interface Cursor {
  ts: string;
  id: string;
}

const TS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
type OrderColumn = 'received_at' | 'created_at';

/** `cursor` query parameter: an opaque token this API issued; a forged one answers 422. */
export const cursorParam = Joi.string()
  .max(200)
  .custom((raw: string, helpers) => {
    let value: Partial<Cursor> | undefined;
    try {
      value = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    } catch {
      value = undefined;
    }
    if (!value || typeof value.ts !== 'string' || !TS.test(value.ts) || !isUuid(value.id)) return helpers.error('cursor.invalid');
    return { ts: value.ts, id: value.id };
  })
  .messages({ 'cursor.invalid': '{{#label}} is not a cursor this API issued' });

export const limitParam = Joi.number().integer().min(1).max(200).default(50);

/** The ordering column rendered with full precision, selected as `cursor_ts` so a page's last row yields the next cursor. */
export const cursorAttribute = (column: OrderColumn): [ReturnType<typeof literal>, string] => [
  literal(`to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`),
  'cursor_ts',
];

/** Rows strictly after the cursor, newest first (values were validated by `cursorParam` before reaching SQL). */
export function afterCursor(column: OrderColumn, cursor: Cursor | undefined): WhereOptions[] {
  return cursor ? [literal(`(${column}, id) < ('${cursor.ts}'::timestamptz, '${cursor.id}'::uuid)`)] : [];
}

interface CursorRow {
  id: string;
  get(key: 'cursor_ts'): unknown;
}

/** One page of at most `limit` items (rows were fetched with limit + 1), and the next page's cursor or null. */
export function pageOf<T extends CursorRow, R>(rows: T[], limit: number, map: (row: T) => R): { items: R[]; next_cursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  const next = rows.length > limit && last ? Buffer.from(JSON.stringify({ ts: last.get('cursor_ts'), id: last.id })).toString('base64url') : null;
  return { items: items.map(map), next_cursor: next };
}

/** A `since`/`until` range on a column (until exclusive). */
export function timeRange(column: string, since?: Date, until?: Date): WhereOptions {
  if (!since && !until) return {};
  return { [column]: { ...(since ? { [Op.gte]: since } : {}), ...(until ? { [Op.lt]: until } : {}) } };
}
