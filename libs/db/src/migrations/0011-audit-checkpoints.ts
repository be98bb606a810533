import type { MigrationFn } from 'umzug';
import type { QueryInterface } from 'sequelize';

/**
 * Keyed audit checkpoints (libs/audit checkpoint.ts): every append of entries to a chain (org_id NULL: the platform's)
 * stores, in the same transaction, an HMAC-SHA256 with AUDIT_CHECKPOINT_KEY — a key the database never sees — over
 * the chain, the run's first `prev_hash`, its last `hash` and its entry count. The services' role may INSERT into
 * audit_logs, so it can forge a row with a correct SHA-256 link; it cannot forge the checkpoint that verification
 * requires around every entry. `key_id` names the key (a prefix of its SHA-256), so checkpoints made before a
 * rotation still verify. `seq` is the order verification walks a chain's checkpoints in, as audit_logs.seq is its
 * entries'. Append-only like audit_logs: the services' role gets SELECT and INSERT only (migrate.ts).
 */
export const up: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  await qi.sequelize.query(`
    CREATE TABLE audit_checkpoints (
      seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      org_id uuid REFERENCES organizations (id),
      first_prev_hash text NOT NULL,
      last_hash text NOT NULL,
      entry_count integer NOT NULL CHECK (entry_count > 0),
      key_id text NOT NULL,
      mac text NOT NULL
    );
    CREATE INDEX audit_checkpoints_org_seq_idx ON audit_checkpoints (org_id, seq);
    ALTER TABLE audit_checkpoints ENABLE ROW LEVEL SECURITY;
    ALTER TABLE audit_checkpoints FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON audit_checkpoints
      USING ((SELECT app_is_system()) OR org_id = (SELECT app_current_org()))
      WITH CHECK ((SELECT app_is_system()) OR org_id = (SELECT app_current_org()));
  `);
};

export const down: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  await qi.sequelize.query('DROP TABLE audit_checkpoints');
};
