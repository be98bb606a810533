import { Sequelize } from 'sequelize-typescript';
import type { Transaction } from 'sequelize';
import { ALL_MODELS } from './models';

export type { Transaction };

export interface DatabaseOptions {
  url: string;
  poolMax?: number;
  logging?: (sql: string) => void;
}

/**
 * The services' connection (DATABASE_URL). Tenant data is reached only inside a transaction that carries an
 * organization context (`forOrg`) or that declares, at the call site, that it works across organizations
 * (`asSystem`); row-level security enforces the same rule beneath this code.
 */
export class Database {
  readonly sequelize: Sequelize;

  constructor(options: DatabaseOptions) {
    this.sequelize = new Sequelize(options.url, {
      dialect: 'postgres',
      logging: options.logging ?? false,
      pool: { max: options.poolMax ?? 10, min: 0, idle: 10000, acquire: 10000 },
      models: ALL_MODELS,
      define: { underscored: true },
    });
  }

  /** Runs `work` in a transaction that sees only `orgId`'s rows. */
  async forOrg<T>(orgId: string, work: (tx: Transaction) => Promise<T>): Promise<T> {
    return this.sequelize.transaction(async (tx) => {
      await this.sequelize.query("SELECT set_config('app.org_id', $1, true), set_config('app.scope', '', true)", {
        bind: [orgId],
        transaction: tx,
      });
      return work(tx);
    });
  }

  /**
   * Runs `work` in a transaction that sees every organization. Only for superadmin requests and platform code
   * (login by email, org resolution, the outbox relay); `reason` documents the call site.
   */
  async asSystem<T>(reason: string, work: (tx: Transaction) => Promise<T>): Promise<T> {
    return this.sequelize.transaction(async (tx) => {
      await this.sequelize.query("SELECT set_config('app.scope', 'system', true), set_config('app.reason', $1, true)", {
        bind: [reason],
        transaction: tx,
      });
      return work(tx);
    });
  }

  async ping(): Promise<void> {
    await this.sequelize.query('SELECT 1');
  }

  async close(): Promise<void> {
    await this.sequelize.close();
  }
}
