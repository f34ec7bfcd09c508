-- Every dead-lettered message, as one failed job (a retried job that fails again is updated).
CREATE TABLE failed_jobs (
    id               uuid PRIMARY KEY,
    message_id       text        NOT NULL,
    queue            text        NOT NULL,     -- the queue it failed in (where a retry goes)
    shop             text,
    service          text,
    routing_key      text        NOT NULL,
    message_type     text,
    headers          jsonb       NOT NULL,
    body             bytea       NOT NULL,
    error_class      text        NOT NULL,
    error_code       text,
    error_message    text,
    source_message   text,
    explanation      text,
    attempts         integer     NOT NULL DEFAULT 1,
    failures         integer     NOT NULL DEFAULT 1,
    first_failed_at  timestamptz NOT NULL,
    last_failed_at   timestamptz NOT NULL,
    trace_id         text,
    status           text        NOT NULL DEFAULT 'open',  -- open | retrying | discarded
    retries          integer     NOT NULL DEFAULT 0,
    last_retried_at  timestamptz,
    UNIQUE (message_id, queue)
);
CREATE INDEX failed_jobs_shop_status ON failed_jobs (shop, status, last_failed_at);
