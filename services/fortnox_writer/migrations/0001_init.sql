-- Fortnox connections per shop; tokens encrypted at rest.
CREATE TABLE connections (
    shop          text PRIMARY KEY,
    tenant_id     text        NOT NULL,
    access_token  bytea       NOT NULL,
    refresh_token bytea,
    expires_at    timestamptz NOT NULL,
    scopes        text        NOT NULL DEFAULT '',
    status        text        NOT NULL DEFAULT 'connected',  -- 'connected' | 'needs_reconnection'
    status_reason text,
    refreshed_at  timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- One row per Fortnox document we make: the intent is recorded before the call.
CREATE TABLE documents (
    document_key       text PRIMARY KEY,
    shop               text        NOT NULL,
    command_id         text        NOT NULL,
    kind               text        NOT NULL,
    external_reference text        NOT NULL,
    status             text        NOT NULL DEFAULT 'pending', -- pending | created | failed
    attempts           integer     NOT NULL DEFAULT 0,
    document_number    text,
    fortnox_total      numeric(18, 2),
    last_error         text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX documents_shop ON documents (shop, updated_at);

-- Known Fortnox customers and articles, so a steady-state order costs one call.
CREATE TABLE customers (
    shop            text NOT NULL,
    match_key       text NOT NULL,
    match_value     text NOT NULL,
    customer_number text NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop, match_key, match_value)
);
CREATE TABLE articles (
    shop           text NOT NULL,
    article_number text NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop, article_number)
);

-- GCRA state per Fortnox tenant, shared by every writer replica.
CREATE TABLE rate_limits (
    tenant_id text PRIMARY KEY,
    tat       timestamptz NOT NULL
);

-- Short leases on documents, customers and articles: one replica works on a key at a time.
-- A lease holds no database connection and expires by itself if its holder dies.
CREATE TABLE leases (
    key        text PRIMARY KEY,
    holder     text        NOT NULL,
    expires_at timestamptz NOT NULL
);
