-- The outbox relay sets aside a stored event no valid message can be made of (a body nested too
-- deep, not strict JSON, unreadable columns), with the reason, instead of retrying it every pass
-- and blocking the events behind it. Listed by GET /admin/api/webhooks/set_aside.json.
ALTER TABLE webhook_events ADD COLUMN set_aside_at timestamptz;
ALTER TABLE webhook_events ADD COLUMN set_aside_reason text;
CREATE INDEX webhook_events_set_aside ON webhook_events (shop, set_aside_at)
    WHERE set_aside_at IS NOT NULL;
