-- Webhooks as received: stored once, then published (outbox).
CREATE TABLE webhook_events (
    event_uid     uuid PRIMARY KEY,
    shop          text        NOT NULL,
    topic         text        NOT NULL,
    webhook_id    text        NOT NULL,
    event_id      text,
    api_version   text,
    triggered_at  timestamptz,
    received_at   timestamptz NOT NULL,
    body          text        NOT NULL,
    trace_headers jsonb       NOT NULL DEFAULT '{}'::jsonb,
    published_at  timestamptz,
    duplicates    integer     NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX webhook_events_webhook_id ON webhook_events (shop, webhook_id);
CREATE UNIQUE INDEX webhook_events_event_id ON webhook_events (shop, topic, event_id)
    WHERE event_id IS NOT NULL;
CREATE INDEX webhook_events_unpublished ON webhook_events (received_at)
    WHERE published_at IS NULL;
