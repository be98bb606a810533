// The ceiling for bench/identity: bare Express answering GET /users/me with a fixed profile of the same shape.
import express from 'express';

const profile = {
  id: '00000000-0000-4000-8000-000000000000',
  org_id: '00000000-0000-4000-8000-000000000001',
  email: 'bench@example.test',
  first_name: 'Bench',
  last_name: 'User',
  role: 'user',
  status: 'active',
  department: null,
  title: null,
  external_id: null,
  created_at: '2026-01-01T00:00:00.000Z',
  updated_at: '2026-01-01T00:00:00.000Z',
};

const app = express();
app.get('/readyz', (_req, res) => {
  res.json({ status: 'ready' });
});
app.get('/users/me', (_req, res) => {
  res.json(profile);
});
const server = app.listen(Number(process.env['BENCH_PORT']));
process.once('SIGTERM', () => server.close(() => process.exit(0)));
