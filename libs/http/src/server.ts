import { once } from 'node:events';
import { ServerResponse, type Server } from 'node:http';
import type { Express } from 'express';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { createMetricsApp } from './metrics';

const writeHead = ServerResponse.prototype.writeHead;

export interface RunningServer {
  server: Server;
  port: number;
  /** The metrics listener's port, when one was asked for. */
  metricsPort?: number;
  /**
   * Stops accepting, lets in-flight requests finish (up to the timeout), closes the metrics listener, then runs the
   * shutdown hooks.
   */
  close(): Promise<void>;
}

/** A listener of its own for `GET /metrics`, so that the public port never serves it. */
export interface MetricsListener {
  registry: Registry;
  port: number;
  host: string;
}

export interface StartOptions {
  /** Listen address; loopback unless told otherwise, so nothing is reachable from elsewhere by accident. */
  host?: string;
  metrics?: MetricsListener;
  logger: Logger;
  shutdownTimeoutMs: number;
  /** Release connections (database, broker, Redis) after the last request has finished. */
  onShutdown?: () => Promise<void>;
  /** Exit the process on SIGTERM/SIGINT after a graceful close (off in tests). */
  handleSignals?: boolean;
}

export async function startServer(app: Express, port: number, options: StartOptions): Promise<RunningServer> {
  const { metrics: listener } = options;
  const metrics =
    listener &&
    (await startServer(createMetricsApp(listener.registry), listener.port, {
      host: listener.host,
      logger: options.logger,
      shutdownTimeoutMs: options.shutdownTimeoutMs,
      handleSignals: false,
    }));
  const server = app.listen(port, options.host ?? '127.0.0.1');
  // Longer than a fronting proxy's idle keep-alive, so the proxy (api-gateway, a load balancer) closes idle
  // connections first and never writes a request into a socket this server is closing.
  server.keepAliveTimeout = 65000;
  server.headersTimeout = 66000;
  await once(server, 'listening').catch(async (err: unknown) => {
    await metrics?.close();
    throw err;
  });
  const address = server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;

  let closing: Promise<void> | undefined;
  // server.close() only destroys connections idle at that moment. A keep-alive connection busy then stays open, its
  // client writes the next request into it, and that request is reset when the socket is finally destroyed. So once
  // closing has begun, every response not yet started says `Connection: close`: Node ends the connection after it and
  // the client's next request goes to a new connection (refused cleanly). Decided when the headers are written, so
  // responses in flight at close() are covered and a proxied `connection: keep-alive` (api-gateway) cannot undo it.
  function writeHeadClosing(this: ServerResponse, ...args: Parameters<ServerResponse['writeHead']>) {
    if (closing && !this.headersSent) this.setHeader('Connection', 'close');
    return writeHead.apply(this, args);
  }
  // Before Express's listener, so the wrapper is in place even for a response sent synchronously.
  server.prependListener('request', (_req, res: ServerResponse) => {
    res.writeHead = writeHeadClosing as ServerResponse['writeHead'];
  });

  const close = () =>
    (closing ??= (async () => {
      const drained = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const force = setTimeout(() => server.closeAllConnections(), options.shutdownTimeoutMs);
      await drained;
      clearTimeout(force);
      await metrics?.close();
      await options.onShutdown?.();
    })());

  if (options.handleSignals !== false) {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        options.logger.info({ signal }, 'shutting down');
        close()
          .then(() => process.exit(0))
          .catch((err) => {
            options.logger.error({ err }, 'shutdown failed');
            process.exit(1);
          });
      });
    }
  }
  return { server, port: boundPort, metricsPort: metrics?.port, close };
}
