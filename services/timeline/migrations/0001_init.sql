-- The sync timeline of each Shopify order: one row per event, newest last.
CREATE TABLE events (
    id              bigserial PRIMARY KEY,
    message_id      text UNIQUE,              -- the result message it came from (dedupe)
    shop            text        NOT NULL,
    order_id        text        NOT NULL,
    kind            text        NOT NULL,     -- 'sync' (system, immutable) | 'note'
    status          text,
    message         text        NOT NULL,
    document_kind   text,
    document_number text,
    fortnox_total   numeric(18, 2),
    expected_total  numeric(18, 2),
    currency        text,
    error_code      text,
    trace_id        text,
    occurred_at     timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_order ON events (shop, order_id, occurred_at);

-- The latest status per order, and whether Shopify shows it yet.
CREATE TABLE order_status (
    shop            text NOT NULL,
    order_id        text NOT NULL,
    order_name      text,
    status          text        NOT NULL,
    document_number text,
    occurred_at     timestamptz NOT NULL,
    mirrored_at     timestamptz,
    mirror_note     text,
    PRIMARY KEY (shop, order_id)
);

-- Shopify Admin API access per shop (offline token, encrypted).
CREATE TABLE shop_credentials (
    shop         text PRIMARY KEY,
    access_token bytea       NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
