-- Failed jobs explained and grouped by cause, paced bulk replays, and an audit log.

ALTER TABLE failed_jobs
    ADD COLUMN seq               bigserial,    -- stable order for cursor pagination
    ADD COLUMN object_type       text,         -- the Shopify object: order, refund, ...
    ADD COLUMN object_id         text,
    ADD COLUMN object_name       text,         -- e.g. the order name #1001
    ADD COLUMN document_key      text,
    ADD COLUMN fortnox_code      text,         -- Fortnox's numeric error code, when it answered
    ADD COLUMN fix               text,         -- what to do about it, in plain English
    ADD COLUMN cause_key         text NOT NULL DEFAULT 'unknown',
    ADD COLUMN cause_title       text NOT NULL DEFAULT 'Unknown cause',
    ADD COLUMN details           jsonb,
    ADD COLUMN last_failure_id   text,         -- a duplicate dead letter of one failure is ignored
    ADD COLUMN queued_at         timestamptz,  -- waiting for a paced bulk replay
    ADD COLUMN replay_batch      uuid,         -- the bulk retry that last re-queued it
    ADD COLUMN status_reason     text,         -- why it was discarded
    ADD COLUMN status_changed_by text,
    ADD COLUMN status_changed_at timestamptz,
    ADD CONSTRAINT failed_jobs_status_known
        CHECK (status IN ('open', 'queued', 'retrying', 'discarded'));

CREATE UNIQUE INDEX failed_jobs_seq ON failed_jobs (seq);
CREATE INDEX failed_jobs_status_cause ON failed_jobs (status, cause_key);
CREATE INDEX failed_jobs_cause_seq ON failed_jobs (cause_key, seq);
CREATE INDEX failed_jobs_shop_seq ON failed_jobs (shop, seq);
CREATE INDEX failed_jobs_last_failed ON failed_jobs (last_failed_at);
CREATE INDEX failed_jobs_queued ON failed_jobs (queued_at, seq) WHERE status = 'queued';
CREATE INDEX failed_jobs_batch ON failed_jobs (replay_batch) WHERE replay_batch IS NOT NULL;

-- Who retried or discarded what, and when.
CREATE TABLE audit_log (
    id         bigserial   PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    actor      text        NOT NULL,
    action     text        NOT NULL,   -- retry | bulk_retry | discard
    job_id     uuid,                   -- one job (retry, discard)
    batch_id   uuid,                   -- a bulk retry: its jobs carry replay_batch = batch_id
    filter     jsonb,                  -- a bulk retry: the filter it matched
    job_count  integer     NOT NULL DEFAULT 1,
    reason     text
);
CREATE INDEX audit_log_job ON audit_log (job_id) WHERE job_id IS NOT NULL;

-- One GCRA-style pacer row shared by every replica: bulk replays never exceed REPLAY_RATE.
CREATE TABLE pacer (
    name    text        PRIMARY KEY,
    next_at timestamptz NOT NULL
);
INSERT INTO pacer (name, next_at) VALUES ('replay', now());
