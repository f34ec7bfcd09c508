-- Inventory sync (services/ingest/inventory): per shop its progress and figures, what Fortbridge
-- last wrote where (the echo guard: a change equal to our own write is not sent back), and the
-- items it could not sync with the reason (the discrepancies the status endpoint lists).
CREATE TABLE inventory_shops (
    shop               text PRIMARY KEY,
    source             text        NOT NULL DEFAULT 'none',
    event_cursor_at    timestamptz,            -- inventory_levels/update rows handled up to
    event_cursor_uid   uuid,
    fortnox_since      timestamptz,            -- read_stock: articles changed since
    read_requested_at  timestamptz,            -- a read_stock in flight since (NULL: none)
    last_check_at      timestamptz,            -- the last full comparison of Shopify's levels
    last_sync_at       timestamptz,            -- the last round that synced something or found
                                               -- nothing to do
    to_fortnox         integer     NOT NULL DEFAULT 0,
    to_shopify         integer     NOT NULL DEFAULT 0,
    echoes_ignored     integer     NOT NULL DEFAULT 0,
    compare_retries    integer     NOT NULL DEFAULT 0,
    warehouse_module   boolean,
    last_error         text,
    updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE inventory_written (
    shop       text        NOT NULL,
    target     text        NOT NULL CHECK (target IN ('fortnox', 'shopify')),
    key        text        NOT NULL,   -- fortnox: article number; shopify: 'level:<item>:<location>'
                                       -- or 'article:<number>' (the Fortnox value it followed)
    value      numeric     NOT NULL,
    written_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop, target, key)
);

CREATE TABLE inventory_problems (
    shop             text        NOT NULL,
    key              text        NOT NULL,   -- 'item:<id>' or 'article:<number>'
    sku              text,
    reason           text        NOT NULL,
    shopify_quantity numeric,
    fortnox_quantity numeric,
    seen_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop, key)
);
