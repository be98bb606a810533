-- Indexes the scale fixture asks for (bench/scale/run.ts measures the SQL before and after applying this file).
-- Each serves the superadmin "all organizations" view, where no index starts with org_id.
-- GET /integrations/events (no filter) and the status window's received_at range:
CREATE INDEX IF NOT EXISTS webhook_events_received_idx ON webhook_events (received_at DESC, id DESC);
-- GET /integrations/events?service=&status= and /integrations/status (last success/failure, pending) per service;
-- org_id included so the row-level-security filter can be checked from the index:
CREATE INDEX IF NOT EXISTS webhook_events_service_status_received_idx ON webhook_events (service, status, received_at DESC, id DESC) INCLUDE (org_id);
-- GET /integrations/events?event_type=:
CREATE INDEX IF NOT EXISTS webhook_events_type_received_idx ON webhook_events (event_type, received_at DESC, id DESC);
-- GET /users (superadmin, no org_id), ordered by creation:
CREATE INDEX IF NOT EXISTS users_created_idx ON users (created_at, id);
