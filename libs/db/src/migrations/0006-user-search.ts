import type { MigrationFn } from 'umzug';
import type { QueryInterface } from 'sequelize';

/**
 * The text `GET /users?q=` searches (docs/API.md "Endpoints": a case-insensitive substring of the e-mail or a name),
 * stored once per row: `lower(email) || chr(31) || lower(first_name) || chr(31) || lower(last_name)`
 * (`SEARCH_FIELD_SEPARATOR` in pagination.ts). `x ILIKE '%q%'` is `lower(x) LIKE lower('%q%')` in a UTF-8 database,
 * so a search no longer folds the case of three columns per row it reads; and a q without the separator cannot match
 * across two fields.
 *
 * Under row-level security no index can serve a substring condition (LIKE and strpos are not leakproof), so a search
 * reads entries until it has a page. The two newest-first indexes now carry what a search filters on, so it reads
 * their entries (an index-only scan) instead of the wide heap rows: across the scale fixture's 100k users, 0.13–0.2 µs
 * an entry instead of 1.1–1.7 µs a row with three ILIKEs (docs/PERFORMANCE.md, "Scale fixture").
 *
 * A B-tree entry holds at most ~2.7 kB, and a name can be 1000 characters (webhook sync): rows whose search text
 * would exceed 2000 bytes store NULL and are found through `users_unsearchable_idx` (normally empty) by the
 * three-ILIKE condition.
 *
 * Write cost: the column is computed on every insert and update, ~45 bytes more a row; the two indexes are rebuilt
 * wider and the partial one stays empty; a change of a name is no longer a HOT update (one of the e-mail, status or
 * role already was not). Paired runs on the scale fixture: users inserts and updates ~10–20 % slower (a few µs a row).
 * The migration rewrites the table under an exclusive lock (100k users: 1.7 s).
 */
const SEARCH_TEXT = `lower(email) || chr(31) || lower(coalesce(first_name, '')) || chr(31) || lower(coalesce(last_name, ''))`;
const MAX_SEARCH_BYTES = 2000;

export const up: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  await qi.sequelize.query(`
    ALTER TABLE users ADD COLUMN search text
      GENERATED ALWAYS AS (CASE WHEN octet_length(${SEARCH_TEXT}) <= ${MAX_SEARCH_BYTES} THEN ${SEARCH_TEXT} END) STORED;
    DROP INDEX users_created_idx, users_org_created_idx;
    CREATE INDEX users_created_idx ON users (created_at, id) INCLUDE (org_id, status, role, search);
    CREATE INDEX users_org_created_idx ON users (org_id, created_at, id) INCLUDE (status, role, search);
    CREATE INDEX users_unsearchable_idx ON users (org_id, created_at, id) WHERE search IS NULL;
  `);
};

export const down: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  await qi.sequelize.query(`
    ALTER TABLE users DROP COLUMN search;
    CREATE INDEX users_created_idx ON users (created_at, id);
    CREATE INDEX users_org_created_idx ON users (org_id, created_at, id);
  `);
};
