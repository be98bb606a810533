import type { MigrationFn } from 'umzug';
import type { QueryInterface } from 'sequelize';

/**
 * E-mail lookups that an index can serve under row-level security. `lower(email) = $1` could not use the unique
 * index on `lower(email)`: `lower` is not leakproof, so PostgreSQL evaluates it only after the policy's condition,
 * row by row — every login (system scope) read the whole users table, every e-mail match of the worker's syncs the
 * whole table or the organization's rows (bench/scale "login lookup": a sequential scan of the 100k users). Equality
 * on a stored column (`text = text` is leakproof) can be an index condition: the lower-cased e-mail is stored once per
 * row and the unique index moves to it, under the same name (`users_email_key`: the conflict mapping keys on it).
 *
 * Write cost: ~25 bytes more a row, computed on insert and e-mail change. Rewrites the table under an exclusive lock
 * (as 0006 does).
 */
export const up: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  await qi.sequelize.query(`
    ALTER TABLE users ADD COLUMN email_lower text GENERATED ALWAYS AS (lower(email)) STORED;
    DROP INDEX users_email_key;
    CREATE UNIQUE INDEX users_email_key ON users (email_lower);
  `);
};

export const down: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  await qi.sequelize.query(`
    ALTER TABLE users DROP COLUMN email_lower;
    CREATE UNIQUE INDEX users_email_key ON users (lower(email));
  `);
};
