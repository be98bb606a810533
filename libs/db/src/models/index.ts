import type { IntegrationService as ServiceName, WebhookEventStatus } from '@saas/contracts';
import { col, where, type WhereOptions } from 'sequelize';
import { Column, DataType, Model, Table } from 'sequelize-typescript';

// esbuild emits no decorator metadata: every column names its DataType explicitly.

export type Role = 'superadmin' | 'admin' | 'user';
export type UserStatus = 'pending' | 'active' | 'suspended' | 'inactive';
export type OrgStatus = 'active' | 'suspended' | 'deleted';
// the enumerations of the integration side are the contract's (libs/contracts)
export type { IntegrationService as ServiceName, WebhookEventStatus } from '@saas/contracts';

const uuidPk = { type: DataType.UUID, primaryKey: true, defaultValue: DataType.UUIDV4 };
const tableOptions = { underscored: true, timestamps: true, createdAt: 'created_at', updatedAt: 'updated_at' } as const;

@Table({ tableName: 'organizations', ...tableOptions })
export class Organization extends Model {
  @Column(uuidPk) declare id: string;
  @Column({ type: DataType.TEXT, allowNull: false }) declare name: string;
  @Column({ type: DataType.TEXT, allowNull: false }) declare slug: string;
  @Column({ type: DataType.TEXT, allowNull: false, defaultValue: 'active' }) declare status: OrgStatus;
  /** Whether the user directory may link its entries to accounts it did not create (role `user` only). */
  @Column({ type: DataType.BOOLEAN, allowNull: false, defaultValue: false }) declare directory_links_existing_users: boolean;
  @Column({ type: DataType.DATE }) declare created_at: Date;
  @Column({ type: DataType.DATE }) declare updated_at: Date;
}

@Table({ tableName: 'users', ...tableOptions })
export class User extends Model {
  @Column(uuidPk) declare id: string;
  @Column({ type: DataType.UUID }) declare org_id: string | null;
  @Column({ type: DataType.TEXT, allowNull: false }) declare email: string;
  @Column({ type: DataType.TEXT }) declare password_hash: string | null;
  @Column({ type: DataType.TEXT }) declare first_name: string | null;
  @Column({ type: DataType.TEXT }) declare last_name: string | null;
  @Column({ type: DataType.TEXT, allowNull: false }) declare role: Role;
  @Column({ type: DataType.TEXT, allowNull: false }) declare status: UserStatus;
  @Column({ type: DataType.TEXT }) declare department: string | null;
  @Column({ type: DataType.TEXT }) declare title: string | null;
  @Column({ type: DataType.TEXT }) declare external_id: string | null;
  @Column({ type: DataType.INTEGER, allowNull: false, defaultValue: 1 }) declare token_version: number;
  @Column({ type: DataType.DATE }) declare external_updated_at: Date | null;
  /** The identity provider's `sub` this user signs in as (migration 0012); unique within the organization. */
  @Column({ type: DataType.TEXT }) declare sso_subject: string | null;
  @Column({ type: DataType.DATE }) declare created_at: Date;
  @Column({ type: DataType.DATE }) declare updated_at: Date;

  /**
   * The condition that finds the user with `email`, in any case. It compares the stored `email_lower` (migration
   * 0008), which users_email_key serves under row-level security; `lower(email) = …` cannot use an index there.
   */
  static withEmail(email: string): WhereOptions {
    return where(col('email_lower'), email.toLowerCase());
  }
}

@Table({ tableName: 'invites', underscored: true, timestamps: true, createdAt: 'created_at', updatedAt: false })
export class Invite extends Model {
  @Column(uuidPk) declare id: string;
  @Column({ type: DataType.UUID, allowNull: false }) declare org_id: string;
  @Column({ type: DataType.UUID, allowNull: false }) declare user_id: string;
  @Column({ type: DataType.TEXT, allowNull: false }) declare token_hash: string;
  @Column({ type: DataType.DATE, allowNull: false }) declare expires_at: Date;
  @Column({ type: DataType.DATE }) declare used_at: Date | null;
  @Column({ type: DataType.UUID }) declare created_by: string | null;
  @Column({ type: DataType.DATE }) declare created_at: Date;
}

@Table({ tableName: 'audit_logs', underscored: true, timestamps: false })
export class AuditLog extends Model {
  @Column({ type: DataType.BIGINT, autoIncrement: true }) declare seq: string;
  @Column(uuidPk) declare id: string;
  @Column({ type: DataType.UUID }) declare org_id: string | null;
  @Column({ type: DataType.TEXT, allowNull: false }) declare actor_type: 'user' | 'system';
  @Column({ type: DataType.TEXT }) declare actor_id: string | null;
  @Column({ type: DataType.TEXT, allowNull: false }) declare action: string;
  @Column({ type: DataType.TEXT }) declare target_type: string | null;
  @Column({ type: DataType.TEXT }) declare target_id: string | null;
  @Column({ type: DataType.TEXT }) declare request_id: string | null;
  @Column({ type: DataType.TEXT }) declare ip: string | null;
  @Column({ type: DataType.JSONB, allowNull: false, defaultValue: {} }) declare metadata: Record<string, unknown>;
  @Column({ type: DataType.DATE, allowNull: false }) declare created_at: Date;
  @Column({ type: DataType.TEXT, allowNull: false }) declare prev_hash: string;
  @Column({ type: DataType.TEXT, allowNull: false }) declare hash: string;
}

export interface AttemptRecord {
  attempt: number;
  at: string;
  outcome: 'processed' | 'retrying' | 'failed' | 'skipped' | 'replayed';
  error?: string;
  delay_ms?: number;
}

@Table({ tableName: 'webhook_events', underscored: true, timestamps: true, createdAt: 'received_at', updatedAt: 'updated_at' })
export class WebhookEvent extends Model {
  @Column(uuidPk) declare id: string;
  @Column({ type: DataType.UUID, allowNull: false }) declare org_id: string;
  @Column({ type: DataType.TEXT, allowNull: false }) declare service: ServiceName;
  @Column({ type: DataType.TEXT, allowNull: false }) declare event_id: string;
  @Column({ type: DataType.TEXT, allowNull: false }) declare event_type: string;
  @Column({ type: DataType.DATE, allowNull: false }) declare event_timestamp: Date;
  @Column({ type: DataType.TEXT, allowNull: false, defaultValue: 'received' }) declare status: WebhookEventStatus;
  @Column({ type: DataType.JSONB, allowNull: false }) declare payload: Record<string, unknown>;
  @Column({ type: DataType.INTEGER, allowNull: false, defaultValue: 0 }) declare attempts: number;
  @Column({ type: DataType.TEXT }) declare last_error: string | null;
  @Column({ type: DataType.JSONB, allowNull: false, defaultValue: [] }) declare history: AttemptRecord[];
  @Column({ type: DataType.INTEGER, allowNull: false, defaultValue: 0 }) declare duplicate_count: number;
  @Column({ type: DataType.DATE }) declare last_duplicate_at: Date | null;
  @Column({ type: DataType.TEXT }) declare request_id: string | null;
  /** The integration source that delivered the event; null for a platform endpoint. */
  @Column({ type: DataType.UUID }) declare source_id: string | null;
  @Column({ type: DataType.DATE }) declare received_at: Date;
  @Column({ type: DataType.DATE }) declare processed_at: Date | null;
  @Column({ type: DataType.DATE }) declare updated_at: Date;
}

@Table({ tableName: 'subscriptions', ...tableOptions })
export class Subscription extends Model {
  @Column(uuidPk) declare id: string;
  @Column({ type: DataType.UUID, allowNull: false }) declare org_id: string;
  @Column({ type: DataType.UUID }) declare user_id: string | null;
  @Column({ type: DataType.TEXT, allowNull: false }) declare subscription_id: string;
  @Column({ type: DataType.TEXT }) declare customer_id: string | null;
  @Column({ type: DataType.TEXT, allowNull: false }) declare plan: string;
  @Column({ type: DataType.TEXT, allowNull: false }) declare status: string;
  @Column({ type: DataType.TEXT }) declare billing_cycle: string | null;
  @Column({ type: DataType.DECIMAL(14, 2) }) declare amount: string | null;
  @Column({ type: DataType.TEXT }) declare currency: string | null;
  @Column({ type: DataType.DATE }) declare trial_end: Date | null;
  @Column({ type: DataType.JSONB }) declare last_payment_failure: Record<string, unknown> | null;
  @Column({ type: DataType.DATE }) declare last_event_at: Date | null;
  @Column({ type: DataType.DATE }) declare created_at: Date;
  @Column({ type: DataType.DATE }) declare updated_at: Date;
}

@Table({ tableName: 'communication_logs', ...tableOptions })
export class CommunicationLog extends Model {
  @Column(uuidPk) declare id: string;
  @Column({ type: DataType.UUID, allowNull: false }) declare org_id: string;
  @Column({ type: DataType.UUID }) declare user_id: string | null;
  @Column({ type: DataType.TEXT, allowNull: false }) declare message_id: string;
  @Column({ type: DataType.TEXT, allowNull: false }) declare recipient: string;
  @Column({ type: DataType.TEXT, allowNull: false }) declare template: string;
  @Column({ type: DataType.TEXT, allowNull: false }) declare status: string;
  @Column({ type: DataType.INTEGER }) declare delivery_time_ms: number | null;
  @Column({ type: DataType.TEXT }) declare bounce_reason: string | null;
  @Column({ type: DataType.TEXT }) declare bounce_type: string | null;
  @Column({ type: DataType.TEXT }) declare failure_reason: string | null;
  @Column({ type: DataType.TEXT }) declare esp_message_id: string | null;
  @Column({ type: DataType.DATE }) declare last_event_at: Date | null;
  @Column({ type: DataType.DATE }) declare created_at: Date;
  @Column({ type: DataType.DATE }) declare updated_at: Date;
}

export type SourceStatus = 'active' | 'disabled' | 'deleted';

/** A webhook credential bound to one organization and one service (migration 0010). Secrets are AES-256-GCM ciphertexts. */
@Table({ tableName: 'integration_sources', ...tableOptions })
export class IntegrationSource extends Model {
  @Column(uuidPk) declare id: string;
  @Column({ type: DataType.UUID, allowNull: false }) declare org_id: string;
  @Column({ type: DataType.TEXT, allowNull: false }) declare service: ServiceName;
  @Column({ type: DataType.TEXT, allowNull: false }) declare name: string;
  @Column({ type: DataType.TEXT, allowNull: false, defaultValue: 'active' }) declare status: SourceStatus;
  @Column({ type: DataType.TEXT }) declare secret_ciphertext: string | null;
  @Column({ type: DataType.TEXT }) declare previous_secret_ciphertext: string | null;
  @Column({ type: DataType.DATE }) declare previous_secret_expires_at: Date | null;
  @Column({ type: DataType.DATE }) declare secret_rotated_at: Date | null;
  @Column({ type: DataType.DATE }) declare deleted_at: Date | null;
  @Column({ type: DataType.DATE }) declare created_at: Date;
  @Column({ type: DataType.DATE }) declare updated_at: Date;
}

/** An organization's OIDC connection (migration 0012), keyed by the organization. The client secret is an AES-256-GCM ciphertext. */
@Table({ tableName: 'sso_connections', ...tableOptions })
export class SsoConnection extends Model {
  @Column({ type: DataType.UUID, primaryKey: true }) declare org_id: string;
  @Column({ type: DataType.TEXT, allowNull: false }) declare issuer: string;
  @Column({ type: DataType.TEXT, allowNull: false }) declare client_id: string;
  @Column({ type: DataType.TEXT, allowNull: false }) declare client_secret_ciphertext: string;
  @Column({ type: DataType.ARRAY(DataType.TEXT), allowNull: false }) declare allowed_domains: string[];
  @Column({ type: DataType.BOOLEAN, allowNull: false, defaultValue: false }) declare jit_provisioning: boolean;
  @Column({ type: DataType.BOOLEAN, allowNull: false, defaultValue: false }) declare enforce_sso: boolean;
  @Column({ type: DataType.DATE }) declare created_at: Date;
  @Column({ type: DataType.DATE }) declare updated_at: Date;
}

export const ALL_MODELS = [Organization, User, Invite, AuditLog, WebhookEvent, Subscription, CommunicationLog, IntegrationSource, SsoConnection];
