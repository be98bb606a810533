import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePort } from '@saas/testing';

const RABBITMQ_BIN = '/usr/lib/rabbitmq/bin';
const run = promisify(execFile);

export interface ClusterNode {
  name: string;
  amqpPort: number;
  dir: string;
}

/**
 * A RabbitMQ cluster of its own, started from this machine's RabbitMQ install as extra nodes beside the machine's
 * broker (which is left alone): own node names, ports, data folders and Erlang cookie, no plugins (no management or
 * Prometheus listeners to clash), everything under one temp folder. `stop` in `finally`.
 */
export class RabbitCluster {
  private constructor(
    private readonly root: string,
    readonly nodes: ClusterNode[],
  ) {}

  /** The nodes' AMQP URLs, as RABBITMQ_URL lists them. */
  get urls(): string[] {
    return this.nodes.map((n) => `amqp://guest:guest@127.0.0.1:${n.amqpPort}`);
  }

  static async start(size: number): Promise<RabbitCluster> {
    const root = mkdtempSync(path.join(os.tmpdir(), 'rabbit-cluster-'));
    const id = randomBytes(3).toString('hex');
    const nodes: ClusterNode[] = [];
    for (let i = 1; i <= size; i++) nodes.push({ name: `rabbit-c${i}-${id}@localhost`, amqpPort: await freePort(), dir: path.join(root, `c${i}`) });
    const cluster = new RabbitCluster(root, nodes);
    try {
      // The CLI and the nodes authenticate each other with the cookie of HOME (RABBITMQ_ERLANG_COOKIE is deprecated).
      mkdirSync(path.join(root, 'home'));
      writeFileSync(path.join(root, 'home/.erlang.cookie'), randomBytes(20).toString('hex'));
      chmodSync(path.join(root, 'home/.erlang.cookie'), 0o400);
      writeFileSync(path.join(root, 'enabled_plugins'), '[].\n');
      writeFileSync(path.join(root, 'rabbitmq-env.conf'), '');
      for (const node of nodes) await cluster.launch(node);
      await Promise.all(nodes.map((n) => cluster.awaitStartup(n)));
      for (const node of nodes.slice(1)) {
        await cluster.ctl(node, 'stop_app');
        await cluster.ctl(node, 'join_cluster', nodes[0]!.name);
        await cluster.ctl(node, 'start_app');
      }
      return cluster;
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  }

  private env(): NodeJS.ProcessEnv {
    return { ...process.env, HOME: path.join(this.root, 'home') };
  }

  private async launch(node: ClusterNode): Promise<void> {
    mkdirSync(node.dir);
    const config = path.join(node.dir, 'rabbitmq.conf');
    // guest may connect from 127.0.0.1 only by default; the services do
    writeFileSync(config, `listeners.tcp.default = 127.0.0.1:${node.amqpPort}\n`);
    const log = openSync(path.join(node.dir, 'stdout.log'), 'a');
    const child = spawn(`${RABBITMQ_BIN}/rabbitmq-server`, [], {
      env: {
        ...this.env(),
        RABBITMQ_NODENAME: node.name,
        RABBITMQ_DIST_PORT: String(await freePort()),
        RABBITMQ_CONFIG_FILE: config,
        // not /etc/rabbitmq/rabbitmq-env.conf: it names the machine's node
        RABBITMQ_CONF_ENV_FILE: path.join(this.root, 'rabbitmq-env.conf'),
        RABBITMQ_ENABLED_PLUGINS_FILE: path.join(this.root, 'enabled_plugins'),
        RABBITMQ_MNESIA_BASE: path.join(node.dir, 'mnesia'),
        RABBITMQ_LOG_BASE: path.join(node.dir, 'log'),
        RABBITMQ_PID_FILE: path.join(node.dir, 'pid'),
        ERL_EPMD_ADDRESS: '127.0.0.1',
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
      },
      stdio: ['ignore', log, log],
      detached: true,
    });
    closeSync(log);
    child.unref();
  }

  private async ctl(node: ClusterNode, ...args: string[]): Promise<void> {
    await run(`${RABBITMQ_BIN}/rabbitmqctl`, ['-q', '-n', node.name, ...args], { env: this.env(), timeout: 60000 });
  }

  /** await_startup fails at once while the node is not registered yet: retried until it answers. */
  private async awaitStartup(node: ClusterNode, timeoutMs = 180000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await this.ctl(node, 'await_startup');
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`${node.name} did not start: ${(err as Error).message}`, { cause: err });
        await delay(500);
      }
    }
  }

  /** The node's OS process id, from its pid file; null unless that process is still a running Erlang VM. */
  private pidOf(node: ClusterNode): number | null {
    try {
      const pid = Number(readFileSync(path.join(node.dir, 'pid'), 'utf8').trim());
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('beam') ? pid : null;
    } catch {
      return null;
    }
  }

  nodeAt(address: string): ClusterNode {
    const node = this.nodes.find((n) => address === `127.0.0.1:${n.amqpPort}`);
    if (!node) throw new Error(`${address} is no node of this cluster`);
    return node;
  }

  /** SIGKILL: the node dies without closing anything (a machine or pod lost). */
  kill(node: ClusterNode): void {
    const pid = this.pidOf(node);
    if (!pid) throw new Error(`${node.name} has no pid file`);
    process.kill(pid, 'SIGKILL');
  }

  /** Stops every node (cleanly, then SIGKILL for what is left) and deletes the temp folder. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.ctl(n, 'stop').catch(() => undefined)));
    for (const node of this.nodes) {
      const pid = this.pidOf(node);
      if (pid) process.kill(pid, 'SIGKILL');
    }
    rmSync(this.root, { recursive: true, force: true });
  }
}
