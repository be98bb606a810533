import { once } from 'node:events';
import type { Server } from 'node:http';
import type { Express } from 'express';
import type { Logger } from 'pino';

export interface RunningServer {
  server: Server;
  port: number;
  /** Stops accepting, lets in-flight requests finish (up to the timeout), then runs the shutdown hooks. */
  close(): Promise<void>;
}

export interface StartOptions {
  logger: Logger;
  shutdownTimeoutMs: number;
  /** Release connections (database, broker, Redis) after the last request has finished. */
  onShutdown?: () => Promise<void>;
  /** Exit the process on SIGTERM/SIGINT after a graceful close (off in tests). */
  handleSignals?: boolean;
}

export async function startServer(app: Express, port: number, options: StartOptions): Promise<RunningServer> {
  const server = app.listen(port);
  // Longer than a fronting proxy's idle keep-alive, so the proxy (api-gateway, a load balancer) closes idle
  // connections first and never writes a request into a socket this server is closing.
  server.keepAliveTimeout = 65000;
  server.headersTimeout = 66000;
  await once(server, 'listening');
  const address = server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      const drained = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const force = setTimeout(() => server.closeAllConnections(), options.shutdownTimeoutMs);
      await drained;
      clearTimeout(force);
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
  return { server, port: boundPort, close };
}
