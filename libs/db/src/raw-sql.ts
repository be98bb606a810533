import { QueryTypes } from 'sequelize';
import type { Transaction } from 'sequelize';
import type { QueryResult } from 'pg';
import { User } from './models';
import { sql, type SqlStatement } from './one-trip';

// Hot paths issue set-based statements over plain rows inside the caller's transaction (so its organization context
// and row-level security apply): no model instances to build per row.

function sequelize() {
  const { sequelize } = User;
  if (!sequelize) throw new Error('the database models are not initialized (construct a Database first)');
  return sequelize;
}

/**
 * Statements a transaction still has to run before its next one or its COMMIT (its organization context, see
 * `Database.forOrg`'s `beginWithFirstStatement`; a write left for the end, such as the audit entries), which return no
 * rows. A statement sent as a simple query (no bind parameters) through the functions below carries them in its own
 * round trip; any other statement has them sent just before it (the Database's `beforeQuery` hook), and so does the
 * COMMIT (`Database.complete`), so no statement of the transaction runs without them. A ROLLBACK drops them.
 */
const pending = new WeakMap<Transaction, SqlStatement>();

/** Has `statement` (returning no rows) run before the next statement of `tx` or its COMMIT, after any already waiting. */
export function runBeforeNextStatement(tx: Transaction, statement: SqlStatement): void {
  const waiting = pending.get(tx);
  pending.set(tx, waiting ? sql`${waiting}; ${statement}` : statement);
}

/** The statement `tx` still has to run first, handed over once: whoever takes it sends it. */
export function takePendingStatement(tx: Transaction): SqlStatement | undefined {
  const statement = pending.get(tx);
  pending.delete(tx);
  return statement;
}

/** `text` preceded by what `tx` still has to run first, when `text` goes as a simple query (one string, no binds). */
function withPending(tx: Transaction, text: string, bind: unknown[]): string {
  const first = bind.length ? undefined : takePendingStatement(tx);
  return first ? `${first.text}; ${text}` : text;
}

/** The rows of a SELECT (…FOR UPDATE) run in `tx`, with its values bound as $1, $2, … */
export function selectRows<Row extends object>(tx: Transaction, statement: string, bind: unknown[]): Promise<Row[]> {
  return sequelize().query<Row>(withPending(tx, statement, bind), { bind, type: QueryTypes.SELECT, transaction: tx });
}

/** Runs a writing statement in `tx`, with its values bound as $1, $2, … */
export async function execute(tx: Transaction, statement: string, bind: unknown[]): Promise<void> {
  await sequelize().query(withPending(tx, statement, bind), { bind, transaction: tx });
}

/**
 * Runs `statements` (one statement each, values written in as literals) in `tx` in ONE round trip, one after another
 * as one simple-query string, and returns the rows of each. In READ COMMITTED each statement of the string still
 * takes its own snapshot when it starts: a read placed after a lock sees what was committed until the lock was granted.
 */
export async function selectEach<Rows extends unknown[][]>(tx: Transaction, statements: SqlStatement[]): Promise<Rows> {
  const text = withPending(tx, statements.map((statement) => statement.text).join('; '), []);
  // RAW: [all rows, the driver's result], one result per statement of the string (a lone one for a single statement)
  const [, result] = await sequelize().query(text, { type: QueryTypes.RAW, transaction: tx });
  const results = Array.isArray(result) ? (result as QueryResult[]) : [result as QueryResult];
  // the pending statements' results come first
  return results.slice(results.length - statements.length).map((r) => r.rows) as Rows;
}
