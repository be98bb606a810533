import type { MigrationFn } from 'umzug';
import type { QueryInterface } from 'sequelize';

/**
 * Single sign-on (OIDC) per organization (README "Single sign-on"): at most one connection per organization, its
 * client secret stored encrypted (AES-256-GCM with INTEGRATION_SECRETS_KEY, bound to the organization id).
 *
 * `users.sso_subject`: the identity provider's `sub` a user is bound to at their first SSO login; unique within the
 * organization, so one IdP identity signs in as one account.
 */
export const up: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  await qi.sequelize.query(`
    CREATE TABLE sso_connections (
      org_id uuid PRIMARY KEY REFERENCES organizations (id),
      issuer text NOT NULL,
      client_id text NOT NULL,
      client_secret_ciphertext text NOT NULL,
      allowed_domains text[] NOT NULL CHECK (cardinality(allowed_domains) BETWEEN 1 AND 20),
      jit_provisioning boolean NOT NULL DEFAULT false,
      enforce_sso boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    ALTER TABLE sso_connections ENABLE ROW LEVEL SECURITY;
    ALTER TABLE sso_connections FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON sso_connections
      USING ((SELECT app_is_system()) OR org_id = (SELECT app_current_org()))
      WITH CHECK ((SELECT app_is_system()) OR org_id = (SELECT app_current_org()));

    ALTER TABLE users ADD COLUMN sso_subject text;
    CREATE UNIQUE INDEX users_org_sso_subject_key ON users (org_id, sso_subject) WHERE sso_subject IS NOT NULL;
  `);
};

export const down: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  await qi.sequelize.query(`
    DROP INDEX users_org_sso_subject_key;
    ALTER TABLE users DROP COLUMN sso_subject;
    DROP TABLE sso_connections;
  `);
};
