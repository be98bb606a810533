import type { MigrationFn } from 'umzug';
import type { QueryInterface } from 'sequelize';

/**
 * Integration sources (docs/WEBHOOKS.md "Sources"): a webhook credential bound to one organization and one service.
 * The credential, not the payload, decides the organization of what it delivers. Secrets are stored encrypted
 * (AES-256-GCM with INTEGRATION_SECRETS_KEY, which the database never sees); a rotation keeps the previous secret
 * until `previous_secret_expires_at`; a deleted source keeps its row (its events name it) with its secrets erased.
 *
 * `webhook_events.source_id` records which source delivered an event (NULL: a platform endpoint).
 * `organizations.directory_links_existing_users`: whether the user directory may link a directory entry to an
 * account of the organization it did not create (role `user` only; docs/WEBHOOKS.md "The directory").
 */
export const up: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  await qi.sequelize.query(`
    CREATE TABLE integration_sources (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      org_id uuid NOT NULL REFERENCES organizations (id),
      service text NOT NULL CHECK (service IN ('user_service', 'payment_service', 'communication_service')),
      name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
      status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled', 'deleted')),
      secret_ciphertext text,
      previous_secret_ciphertext text,
      previous_secret_expires_at timestamptz,
      secret_rotated_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      deleted_at timestamptz,
      -- a live source has a secret; a deleted one has none left
      CONSTRAINT integration_sources_secret_matches_status CHECK ((status = 'deleted') = (secret_ciphertext IS NULL)),
      CONSTRAINT integration_sources_previous_expires CHECK ((previous_secret_ciphertext IS NULL) = (previous_secret_expires_at IS NULL))
    );
    CREATE INDEX integration_sources_org_created_idx ON integration_sources (org_id, created_at DESC, id DESC);
    ALTER TABLE integration_sources ENABLE ROW LEVEL SECURITY;
    ALTER TABLE integration_sources FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON integration_sources
      USING ((SELECT app_is_system()) OR org_id = (SELECT app_current_org()))
      WITH CHECK ((SELECT app_is_system()) OR org_id = (SELECT app_current_org()));

    ALTER TABLE webhook_events ADD COLUMN source_id uuid REFERENCES integration_sources (id);
    ALTER TABLE organizations ADD COLUMN directory_links_existing_users boolean NOT NULL DEFAULT false;
  `);
};

export const down: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  await qi.sequelize.query(`
    ALTER TABLE organizations DROP COLUMN directory_links_existing_users;
    ALTER TABLE webhook_events DROP COLUMN source_id;
    DROP TABLE integration_sources;
  `);
};
