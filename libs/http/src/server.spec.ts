import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import express from 'express';
import pino from 'pino';
import { startServer, type RunningServer } from './server';

const SHUTDOWN_TIMEOUT_MS = 10000;

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  reusedSocket: boolean;
}

function send(agent: Agent, port: number, method: string, path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ agent, host: '127.0.0.1', port, method, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, reusedSocket: req.reusedSocket }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('startServer', () => {
  let running: RunningServer | undefined;
  let arrived: () => void = () => undefined;
  const agents: Agent[] = [];

  /** A keep-alive client holding at most one connection, as a proxy's or SDK's agent would. */
  function keepAliveAgent(): Agent {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(agent);
    return agent;
  }

  async function start(onShutdown?: () => Promise<void>): Promise<RunningServer> {
    const app = express();
    const slow = (status: number, connectionHeader?: string) => (req: express.Request, res: express.Response) => {
      arrived();
      setTimeout(() => {
        // As api-gateway's proxy does: it copies the upstream's `connection: keep-alive` onto the response.
        if (connectionHeader) res.setHeader('Connection', connectionHeader);
        res.status(status).json({ path: req.path, padding: 'x'.repeat(4096) });
      }, 200);
    };
    app.post('/jobs', slow(202));
    app.get('/slow', slow(200, 'keep-alive'));
    running = await startServer(app, 0, {
      logger: pino({ level: 'silent' }),
      shutdownTimeoutMs: SHUTDOWN_TIMEOUT_MS,
      handleSignals: false,
      onShutdown,
    });
    return running;
  }

  afterEach(async () => {
    for (const agent of agents.splice(0)) agent.destroy();
    await running?.close();
    running = undefined;
    arrived = () => undefined;
  });

  it('when the server is closed with requests in flight on keep-alive connections, then they finish intact with `connection: close` and close() resolves without waiting for the timeout', async () => {
    let onShutdownCalled = false;
    const { port, close } = await start(async () => {
      onShutdownCalled = true;
    });
    const bothArrived = new Promise<void>((resolve) => {
      let count = 0;
      arrived = () => {
        if (++count === 2) resolve();
      };
    });
    const jobsAgent = keepAliveAgent();
    const accepted = send(jobsAgent, port, 'POST', '/jobs');
    const ok = send(keepAliveAgent(), port, 'GET', '/slow');
    await bothArrived;

    const started = Date.now();
    const closed = close();
    // Queued behind the in-flight request on the agent's single connection: sent only after close() began.
    const queued = send(jobsAgent, port, 'GET', '/slow').then(
      () => 'answered',
      (err: NodeJS.ErrnoException) => err.code,
    );

    const [jobs, slow] = await Promise.all([accepted, ok]);
    expect(jobs.status).toBe(202);
    expect(JSON.parse(jobs.body)).toEqual({ path: '/jobs', padding: 'x'.repeat(4096) });
    expect(jobs.headers.connection).toBe('close');
    expect(slow.status).toBe(200);
    expect(JSON.parse(slow.body)).toEqual({ path: '/slow', padding: 'x'.repeat(4096) });
    expect(slow.headers.connection).toBe('close');

    await closed;
    expect(onShutdownCalled).toBe(true);
    // Without `Connection: close` the clients' idle keep-alive connections hold server.close() until the timeout.
    expect(Date.now() - started).toBeLessThan(SHUTDOWN_TIMEOUT_MS / 2);
    // The client had to open a new connection for it, which is refused cleanly instead of written into a dying one.
    await expect(queued).resolves.toBe('ECONNREFUSED');
  });

  it('when the server is not closing, then responses keep `connection: keep-alive` and the connection is reused', async () => {
    const { port } = await start();
    const agent = keepAliveAgent();

    const first = await send(agent, port, 'GET', '/slow');
    const second = await send(agent, port, 'POST', '/jobs');

    expect(first.status).toBe(200);
    expect(first.headers.connection).toBe('keep-alive');
    expect(second.status).toBe(202);
    expect(second.headers.connection).toBe('keep-alive');
    expect(second.reusedSocket).toBe(true);
  });
});
