-- Summary mode (services/mapper/summary.py): each order or refund booked in a daily summary is
-- an entry here, one per planned document key, ever. summary_key names the summary document
-- that holds it once its day closed (NULL: the day is still open): which summary holds which
-- order. A day closed again later (a late order) makes a further batch of that day.
CREATE TABLE summary_entries (
    id            bigserial   PRIMARY KEY,
    shop          text        NOT NULL,
    source_key    text        NOT NULL,   -- the per-order document key the planner made
    order_id      text        NOT NULL,
    source_type   text        NOT NULL,   -- order | refund
    source_id     text        NOT NULL,
    kind          text        NOT NULL CHECK (kind IN ('sales', 'refunds')),
    day           date        NOT NULL,
    closes_at     timestamptz NOT NULL,
    currency      text        NOT NULL,
    profile       text        NOT NULL,
    entry         jsonb       NOT NULL,   -- rows per VAT rate and account, total, rate
    summary_key   text,
    batch         integer,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (shop, source_key)
);
CREATE INDEX summary_entries_open ON summary_entries (closes_at) WHERE summary_key IS NULL;
CREATE INDEX summary_entries_order ON summary_entries (shop, order_id);
