import type { ClientBase, QueryResult } from 'pg';
import { Sequelize } from 'sequelize-typescript';
import { DatabaseError, Transaction } from 'sequelize';
import { isUuid } from './errors';
import { ALL_MODELS } from './models';
import { sql, type SqlStatement } from './one-trip';
import { runBeforeNextStatement, takePendingStatement } from './raw-sql';

export type { Transaction };

const systemScope = (reason: string) => sql`SELECT set_config('app.scope', 'system', true), set_config('app.reason', ${reason}, true)`;

export interface DatabaseOptions {
  url: string;
  poolMax?: number;
  logging?: (sql: string) => void;
  /** Shown as `application_name` in pg_stat_activity and the server's logs: which service holds a connection. */
  applicationName?: string;
}

export interface ForOrgOptions {
  /**
   * Send START TRANSACTION and the organization context with the transaction's first statement instead of in two
   * round trips of their own: they go in the same string as that statement when it is sent through
   * `selectRows`/`execute`/`selectEach` without bind parameters, and just before it otherwise (a model query, bind
   * parameters). Either way no statement of the transaction runs outside it or without its context. For hot
   * transactions (the worker's group commit).
   */
  beginWithFirstStatement?: boolean;
}

/**
 * A Sequelize transaction whose START TRANSACTION waits for its first statement (runBeforeNextStatement). Sequelize
 * begins a transaction by sending it on its own when the connection is acquired (`prepareEnvironment` → `begin`);
 * this subclass only changes that step. A transaction that runs no statement sends START TRANSACTION with its COMMIT,
 * or a bare ROLLBACK, which PostgreSQL answers with a warning (there is no transaction in progress), not an error.
 */
class StartWithFirstStatement extends Transaction {
  async begin(): Promise<void> {
    runBeforeNextStatement(this, sql`START TRANSACTION`);
  }
}

/** What Sequelize's managed `transaction()` does for a transaction it constructs, used for one it cannot construct. */
interface ManagedTransaction {
  prepareEnvironment(useCls: boolean): Promise<void>;
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
      dialectOptions: options.applicationName ? { application_name: options.applicationName } : {},
      models: ALL_MODELS,
      define: { underscored: true },
    });
    // What a transaction still has to run (runBeforeNextStatement) and its next statement does not carry — a model
    // query, or one with bind parameters — runs just before that statement. Before the COMMIT it runs in `complete`.
    this.sequelize.addHook('beforeQuery', async (options) => {
      const { transaction } = options;
      const first = transaction && takePendingStatement(transaction);
      if (first && !(options as { completesTransaction?: boolean }).completesTransaction) await this.sequelize.query(first.text, { transaction });
    });
  }

  /** Runs `work` in a transaction that sees only `orgId`'s rows. */
  async forOrg<T>(orgId: string, work: (tx: Transaction) => Promise<T>, options: ForOrgOptions = {}): Promise<T> {
    if (options.beginWithFirstStatement) {
      const tx = new StartWithFirstStatement(this.sequelize, {});
      // what Sequelize's transaction() does for a transaction it constructs, for one it cannot construct
      await (tx as unknown as ManagedTransaction).prepareEnvironment(false);
      return this.complete(tx, (t) => {
        // SET LOCAL is set_config(…, true), without a row to return
        runBeforeNextStatement(t, sql`SET LOCAL app.org_id TO ${orgId}; SET LOCAL app.scope TO ''`);
        return work(t);
      });
    }
    return this.complete(await this.sequelize.transaction(), async (tx) => {
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
    return this.complete(await this.sequelize.transaction(), async (tx) => {
      await this.sequelize.query("SELECT set_config('app.scope', 'system', true), set_config('app.reason', $1, true)", {
        bind: [reason],
        transaction: tx,
      });
      return work(tx);
    });
  }

  /**
   * Runs `work` in the transaction an organization scope calls for: one organization's rows (`forOrg`), or, for a
   * superadmin's all-organizations scope (`null`, from resolveOrgScope), a system transaction that says why.
   */
  withOrgScope<T>(orgScope: string | null, reason: string, work: (tx: Transaction) => Promise<T>): Promise<T> {
    return orgScope === null ? this.asSystem(reason, work) : this.forOrg(orgScope, work);
  }

  /**
   * Runs `work` in the started transaction `tx`, then what it left to run (runBeforeNextStatement: the audit entries
   * of its last append, say), then COMMIT; on any error ROLLBACK, dropping what was left.
   */
  private async complete<T>(tx: Transaction, work: (tx: Transaction) => Promise<T>): Promise<T> {
    try {
      const result = await work(tx);
      const last = takePendingStatement(tx);
      if (last) await this.sequelize.query(last.text, { transaction: tx });
      await tx.commit();
      return result;
    } catch (err) {
      takePendingStatement(tx);
      // a COMMIT that failed has finished the transaction already
      await tx.rollback().catch(() => undefined);
      throw err;
    }
  }

  /**
   * One read-only statement over `orgId`'s rows in ONE round trip, where `forOrg` needs four (BEGIN, the context,
   * the statement, COMMIT): for hot reads whose rows are serialised as they are. Row-level security applies as in
   * `forOrg`: same role, `app.org_id` set in the same transaction.
   */
  async readForOrg<R>(orgId: string, statement: SqlStatement): Promise<R[]> {
    if (!isUuid(orgId)) throw new TypeError('readForOrg needs an organization id (uuid)');
    return this.inOneTrip<R>([sql`SET TRANSACTION READ ONLY`, sql`SELECT set_config('app.org_id', ${orgId}, true), set_config('app.scope', '', true)`], statement);
  }

  /** `readForOrg` across organizations, with the reason `asSystem` asks for. */
  readAsSystem<R>(reason: string, statement: SqlStatement): Promise<R[]> {
    return this.inOneTrip<R>([sql`SET TRANSACTION READ ONLY`, systemScope(reason)], statement);
  }

  /**
   * One writing statement across organizations in ONE round trip, where `asSystem` needs four: for hot writes that
   * are one statement (the webhook ingest, the outbox). It commits when it succeeds, durably unless `durable: false`
   * (no wait for the WAL flush: only for writes a crash may lose harmlessly). Returns the statement's rows.
   */
  writeAsSystem<R>(reason: string, statement: SqlStatement, options: { durable?: boolean } = {}): Promise<R[]> {
    const context = [systemScope(reason), ...(options.durable === false ? [sql`SELECT set_config('synchronous_commit', 'off', true)`] : [])];
    return this.inOneTrip<R>(context, statement);
  }

  /**
   * Sends the context and the statement as one simple-query string. PostgreSQL runs a multi-statement string as one
   * implicit transaction: the `set_config(…, true)` values hold for the statement and end with it, and an error
   * rolls it all back, so the pooled connection never stays inside a transaction. Errors come wrapped as Sequelize's
   * (`parent` = the driver's error), like every other query's, for the shared error handling.
   */
  private async inOneTrip<R>(context: SqlStatement[], statement: SqlStatement): Promise<R[]> {
    const { connectionManager } = this.sequelize;
    const connection = (await connectionManager.getConnection({ type: 'write' })) as ClientBase;
    try {
      const results = (await connection.query([...context, statement].map((s) => s.text).join('; '))) as unknown as QueryResult[];
      return (results[context.length]?.rows ?? []) as R[];
    } catch (err) {
      throw new DatabaseError(err as ConstructorParameters<typeof DatabaseError>[0]);
    } finally {
      connectionManager.releaseConnection(connection);
    }
  }

  async ping(): Promise<void> {
    await this.sequelize.query('SELECT 1');
  }

  async close(): Promise<void> {
    await this.sequelize.close();
  }
}
