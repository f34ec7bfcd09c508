-- Which order a stored event is about (orders/* and refunds/create), to find its latest payload.
ALTER TABLE webhook_events ADD COLUMN order_id text;
CREATE INDEX webhook_events_order ON webhook_events (shop, order_id, received_at)
    WHERE order_id IS NOT NULL;

-- The state of each order's Fortnox document, projected from the writer's results: what the
-- order admin endpoints answer with.
CREATE TABLE order_documents (
    shop            text NOT NULL,
    order_id        text NOT NULL,
    order_name      text,
    status          text NOT NULL,
    document_kind   text,
    document_number text,
    fortnox_total   numeric(18, 2),
    expected_total  numeric(18, 2),
    currency        text,
    error_code      text,
    error_message   text,
    explanation     text,
    rule_version    integer,
    trace_id        text,
    occurred_at     timestamptz NOT NULL,
    PRIMARY KEY (shop, order_id)
);

-- Events made by a bulk catalog sync carry its id, and so do their results.
ALTER TABLE webhook_events ADD COLUMN batch_id uuid;

-- Bulk product and customer syncs: progress over the items each job published.
CREATE TABLE sync_jobs (
    id           uuid PRIMARY KEY,
    shop         text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('products', 'customers')),
    filter       jsonb NOT NULL DEFAULT '{}'::jsonb,
    status       text NOT NULL CHECK (status IN ('running', 'finished', 'failed')),
    cursor       text,
    paged_all    boolean NOT NULL DEFAULT false,
    error        text,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);
CREATE INDEX sync_jobs_shop ON sync_jobs (shop, kind, started_at DESC);

CREATE TABLE sync_items (
    job_id      uuid NOT NULL REFERENCES sync_jobs (id) ON DELETE CASCADE,
    item_id     text NOT NULL,
    status      text NOT NULL CHECK (status IN ('pending', 'done', 'failed', 'skipped')),
    error       text,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, item_id)
);
