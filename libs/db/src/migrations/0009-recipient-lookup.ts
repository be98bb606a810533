import type { MigrationFn } from 'umzug';
import type { QueryInterface } from 'sequelize';

/**
 * `GET /communication-logs?recipient=` (case-insensitive) through an index, for the reason of 0008: under row-level
 * security `lower(recipient) = …` can be no index condition (`lower` is not leakproof), so the index on
 * `(org_id, lower(recipient))` served only its `org_id` and a search walked the organization's logs until it had a
 * page. The lower-cased recipient is stored once per row and the index, under the same name, leads to the page in
 * list order (`created_at DESC, id DESC`, the keyset cursor's).
 *
 * Write cost: ~25 bytes more a row, computed on insert and recipient change. Rewrites the table under an exclusive lock.
 */
export const up: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  await qi.sequelize.query(`
    ALTER TABLE communication_logs ADD COLUMN recipient_lower text GENERATED ALWAYS AS (lower(recipient)) STORED;
    DROP INDEX communication_logs_org_recipient_idx;
    CREATE INDEX communication_logs_org_recipient_idx ON communication_logs (org_id, recipient_lower, created_at DESC, id DESC);
  `);
};

export const down: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  await qi.sequelize.query(`
    ALTER TABLE communication_logs DROP COLUMN recipient_lower;
    CREATE INDEX communication_logs_org_recipient_idx ON communication_logs (org_id, lower(recipient));
  `);
};
