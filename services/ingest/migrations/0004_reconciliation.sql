-- Reconciliation: orders Shopify changed but never delivered by webhook (services/ingest/reconcile).
-- What made a stored event that Shopify did not deliver: 'admin' (the order admin endpoints) or
-- 'reconciliation'; NULL for a Shopify delivery and a catalog sync (those carry batch_id).
ALTER TABLE webhook_events ADD COLUMN source text;

-- One row per shop: how far reconciliation has checked Shopify's orders, and its last run.
-- The checkpoint moves only after a page of orders was fully handled.
CREATE TABLE reconcile_shops (
    shop             text PRIMARY KEY,
    checkpoint       timestamptz NOT NULL,
    last_started_at  timestamptz,
    last_finished_at timestamptz,
    last_outcome     text CHECK (last_outcome IN ('running', 'finished', 'failed')),
    last_error       text,
    last_error_at    timestamptz,
    orders_checked   integer NOT NULL DEFAULT 0,
    orders_recovered integer NOT NULL DEFAULT 0,
    events_recovered integer NOT NULL DEFAULT 0,
    total_recovered  bigint  NOT NULL DEFAULT 0
);
