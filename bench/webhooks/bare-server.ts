// The ceiling for bench/webhooks: bare Express parsing the JSON body and answering 202, nothing else.
import express from 'express';

const app = express();
app.use(express.json({ limit: '1mb' }));
app.get('/readyz', (_req, res) => {
  res.json({ status: 'ready' });
});
app.post('/webhooks/:endpoint', (_req, res) => {
  res.status(202).json({ status: 'received' });
});
const server = app.listen(Number(process.env['BENCH_PORT']));
process.once('SIGTERM', () => server.close(() => process.exit(0)));
