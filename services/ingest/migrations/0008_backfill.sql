-- Issue 17. Backfills of past orders (services/ingest/backfill): a job per request, paged from
-- Shopify by creation time (or a list of ids) with its cursor saved after each page, so a job
-- whose replica stopped resumes where it was; an order per row with what became of it.
CREATE TABLE backfill_jobs (
    id          uuid        PRIMARY KEY,
    shop        text        NOT NULL,
    filter      jsonb       NOT NULL,              -- {"from", "to"} or {"ids": [...]}
    dry_run     boolean     NOT NULL,
    status      text        NOT NULL,              -- running | finished | failed
    cursor      text,
    paged_all   boolean     NOT NULL DEFAULT false,
    error       text,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE INDEX backfill_jobs_shop ON backfill_jobs (shop, started_at DESC);
CREATE UNIQUE INDEX backfill_jobs_one_running ON backfill_jobs (shop)
    WHERE status = 'running' AND NOT dry_run;

CREATE TABLE backfill_orders (
    job_id     uuid        NOT NULL REFERENCES backfill_jobs (id) ON DELETE CASCADE,
    order_id   text        NOT NULL,
    -- would_create | known (dry run); pending | created | matched | known | failed | skipped
    status     text        NOT NULL,
    document   text,
    error      text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, order_id)
);
