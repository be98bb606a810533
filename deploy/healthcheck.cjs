// Container health probe: GET <path> (default /healthz) on this app's port; exit 0 on 200, else 1.
// Used by the Dockerfile HEALTHCHECK (/healthz: alive) and docker-compose (/readyz: dependencies reachable).
const http = require('node:http');

const PORTS = {
  'api-gateway': ['API_GATEWAY_PORT', 8000],
  'identity-service': ['IDENTITY_SERVICE_PORT', 3001],
  'webhook-gateway': ['WEBHOOK_GATEWAY_PORT', 3002],
  'integration-worker': ['INTEGRATION_WORKER_PORT', 3003],
};
const entry = PORTS[process.env.APP];
if (!entry) {
  process.stderr.write(`healthcheck: unknown APP "${process.env.APP}"\n`);
  process.exit(1);
}
const port = Number(process.env[entry[0]] || entry[1]);
const path = process.argv[2] || '/healthz';
const req = http.get({ host: '127.0.0.1', port, path, timeout: 2500 }, (res) => {
  res.resume();
  process.exit(res.statusCode === 200 ? 0 : 1);
});
req.on('timeout', () => req.destroy(new Error('timeout')));
req.on('error', (err) => {
  process.stderr.write(`healthcheck: ${path} on ${port}: ${err.message}\n`);
  process.exit(1);
});
