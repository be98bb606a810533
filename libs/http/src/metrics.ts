import { Registry, Histogram, collectDefaultMetrics } from 'prom-client';
import express, { type Express, type RequestHandler } from 'express';

export interface ServiceMetrics {
  registry: Registry;
  middleware: RequestHandler;
}

/** A registry per service instance (tests run several apps in one process), with process and HTTP metrics. */
export function createMetrics(service: string): ServiceMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by method, route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const middleware: RequestHandler = (req, res, next) => {
    const end = duration.startTimer();
    res.on('finish', () => {
      // The route template, not the URL, keeps label cardinality bounded.
      const route = req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
      end({ method: req.method, route, status: String(res.statusCode) });
    });
    next();
  };
  return { registry, middleware };
}

/** Each app's metrics listener is on METRICS_PORT plus its offset, so the four apps on one host (`npm start`) never collide. */
export const METRICS_PORT_OFFSETS = { 'api-gateway': 0, 'identity-service': 1, 'webhook-gateway': 2, 'integration-worker': 3 } as const;

export type AppName = keyof typeof METRICS_PORT_OFFSETS;

/** Where `app` serves /metrics; a base of 0 gives every app an ephemeral port (tests running several at once). */
export const metricsPort = (app: AppName, base: number) => (base === 0 ? 0 : base + METRICS_PORT_OFFSETS[app]);

/** The metrics listener's whole app: `GET /metrics`, nothing else. */
export function createMetricsApp(registry: Registry): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  return app;
}
