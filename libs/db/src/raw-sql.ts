import { QueryTypes } from 'sequelize';
import type { Transaction } from 'sequelize';
import { User } from './models';

// Hot paths issue set-based statements over plain rows inside the caller's transaction (so its organization context
// and row-level security apply): no model instances to build per row.

function sequelize() {
  const { sequelize } = User;
  if (!sequelize) throw new Error('the database models are not initialized (construct a Database first)');
  return sequelize;
}

/** The rows of a SELECT (…FOR UPDATE) run in `tx`, with its values bound as $1, $2, … */
export function selectRows<Row extends object>(tx: Transaction, statement: string, bind: unknown[]): Promise<Row[]> {
  return sequelize().query<Row>(statement, { bind, type: QueryTypes.SELECT, transaction: tx });
}

/** Runs a writing statement in `tx`, with its values bound as $1, $2, … */
export async function execute(tx: Transaction, statement: string, bind: unknown[]): Promise<void> {
  await sequelize().query(statement, { bind, transaction: tx });
}
