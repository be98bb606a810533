import type { MigrationFn } from 'umzug';
import type { QueryInterface } from 'sequelize';

/** Tables, constraints and indexes for every entity of the data model (docs/TENANCY.md "Data model"). */
export const up: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  await qi.sequelize.query(`
    CREATE EXTENSION IF NOT EXISTS pgcrypto;

    CREATE TABLE organizations (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
      slug text NOT NULL CHECK (slug ~ '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$'),
      status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'deleted')),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE UNIQUE INDEX organizations_slug_key ON organizations (slug);
    CREATE UNIQUE INDEX organizations_name_key ON organizations (lower(name));
    CREATE INDEX organizations_created_idx ON organizations (created_at, id);

    CREATE TABLE users (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      org_id uuid REFERENCES organizations (id),
      email text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
      password_hash text,
      first_name text,
      last_name text,
      role text NOT NULL CHECK (role IN ('superadmin', 'admin', 'user')),
      status text NOT NULL CHECK (status IN ('pending', 'active', 'suspended', 'inactive')),
      department text,
      title text,
      external_id text,
      token_version integer NOT NULL DEFAULT 1,
      external_updated_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      -- a superadmin belongs to no organization; everyone else belongs to exactly one
      CONSTRAINT users_org_matches_role CHECK ((role = 'superadmin') = (org_id IS NULL))
    );
    CREATE UNIQUE INDEX users_email_key ON users (lower(email));
    CREATE UNIQUE INDEX users_org_external_id_key ON users (org_id, external_id) WHERE external_id IS NOT NULL;
    CREATE INDEX users_org_created_idx ON users (org_id, created_at, id);
    CREATE INDEX users_org_status_idx ON users (org_id, status);
    CREATE INDEX users_org_role_idx ON users (org_id, role);

    CREATE TABLE invites (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      org_id uuid NOT NULL REFERENCES organizations (id),
      user_id uuid NOT NULL REFERENCES users (id),
      token_hash text NOT NULL,
      expires_at timestamptz NOT NULL,
      used_at timestamptz,
      created_by uuid,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE UNIQUE INDEX invites_token_hash_key ON invites (token_hash);
    CREATE INDEX invites_user_idx ON invites (org_id, user_id);

    CREATE TABLE audit_logs (
      seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      org_id uuid REFERENCES organizations (id),
      actor_type text NOT NULL CHECK (actor_type IN ('user', 'system')),
      actor_id text,
      action text NOT NULL,
      target_type text,
      target_id text,
      request_id text,
      ip text,
      metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
      created_at timestamptz NOT NULL DEFAULT now(),
      prev_hash text NOT NULL,
      hash text NOT NULL
    );
    CREATE INDEX audit_logs_org_seq_idx ON audit_logs (org_id, seq);
    CREATE INDEX audit_logs_org_action_idx ON audit_logs (org_id, action, seq);
    CREATE INDEX audit_logs_org_actor_idx ON audit_logs (org_id, actor_id, seq);
    CREATE INDEX audit_logs_org_target_idx ON audit_logs (org_id, target_type, target_id, seq);
    CREATE INDEX audit_logs_org_created_idx ON audit_logs (org_id, created_at);

    CREATE TABLE webhook_events (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      org_id uuid NOT NULL REFERENCES organizations (id),
      service text NOT NULL CHECK (service IN ('user_service', 'payment_service', 'communication_service')),
      event_id text NOT NULL CHECK (length(event_id) BETWEEN 1 AND 255),
      event_type text NOT NULL,
      event_timestamp timestamptz NOT NULL,
      status text NOT NULL DEFAULT 'received'
        CHECK (status IN ('received', 'queued', 'processed', 'retrying', 'failed', 'skipped')),
      payload jsonb NOT NULL,
      attempts integer NOT NULL DEFAULT 0,
      last_error text,
      history jsonb NOT NULL DEFAULT '[]'::jsonb,
      duplicate_count integer NOT NULL DEFAULT 0,
      last_duplicate_at timestamptz,
      request_id text,
      -- set when the broker confirmed the publish; NULL rows are the outbox the relay republishes
      published_at timestamptz,
      received_at timestamptz NOT NULL DEFAULT now(),
      processed_at timestamptz,
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE UNIQUE INDEX webhook_events_idempotency_key ON webhook_events (org_id, service, event_id);
    CREATE INDEX webhook_events_org_received_idx ON webhook_events (org_id, received_at DESC, id DESC);
    CREATE INDEX webhook_events_org_service_status_idx ON webhook_events (org_id, service, status, received_at DESC);
    CREATE INDEX webhook_events_org_type_idx ON webhook_events (org_id, event_type, received_at DESC);
    CREATE INDEX webhook_events_outbox_idx ON webhook_events (received_at) WHERE published_at IS NULL;

    CREATE TABLE subscriptions (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      org_id uuid NOT NULL REFERENCES organizations (id),
      user_id uuid REFERENCES users (id),
      subscription_id text NOT NULL,
      customer_id text,
      plan text NOT NULL CHECK (plan IN ('basic', 'professional', 'enterprise')),
      status text NOT NULL CHECK (status IN ('active', 'trialing', 'past_due', 'canceled', 'failed')),
      billing_cycle text CHECK (billing_cycle IN ('monthly', 'annual', 'quarterly')),
      amount numeric(14, 2),
      currency text,
      trial_end timestamptz,
      last_payment_failure jsonb,
      last_event_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE UNIQUE INDEX subscriptions_org_subscription_key ON subscriptions (org_id, subscription_id);
    CREATE INDEX subscriptions_org_created_idx ON subscriptions (org_id, created_at DESC, id DESC);
    CREATE INDEX subscriptions_org_status_idx ON subscriptions (org_id, status);
    CREATE INDEX subscriptions_org_user_idx ON subscriptions (org_id, user_id);
    CREATE INDEX subscriptions_org_customer_idx ON subscriptions (org_id, customer_id);

    CREATE TABLE communication_logs (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      org_id uuid NOT NULL REFERENCES organizations (id),
      user_id uuid REFERENCES users (id),
      message_id text NOT NULL,
      recipient text NOT NULL,
      template text NOT NULL,
      status text NOT NULL CHECK (status IN ('delivered', 'failed', 'bounced', 'pending')),
      delivery_time_ms integer,
      bounce_reason text,
      bounce_type text,
      failure_reason text,
      esp_message_id text,
      last_event_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE UNIQUE INDEX communication_logs_org_message_key ON communication_logs (org_id, message_id);
    CREATE INDEX communication_logs_org_created_idx ON communication_logs (org_id, created_at DESC, id DESC);
    CREATE INDEX communication_logs_org_status_idx ON communication_logs (org_id, status);
    CREATE INDEX communication_logs_org_recipient_idx ON communication_logs (org_id, lower(recipient));
    CREATE INDEX communication_logs_org_template_idx ON communication_logs (org_id, template);
  `);
};

export const down: MigrationFn<QueryInterface> = async ({ context: qi }) => {
  await qi.sequelize.query(
    'DROP TABLE IF EXISTS communication_logs, subscriptions, webhook_events, audit_logs, invites, users, organizations CASCADE',
  );
};
