-- Issue 17. Period reconciliation reports (services/fortnox_writer/reconciliation): a job per
-- request, read from Shopify and Fortnox; the finished report is kept as JSON. A report whose
-- replica stopped is started again from the beginning by the next replica that starts.
CREATE TABLE reconciliation_reports (
    id           uuid        PRIMARY KEY,
    shop         text        NOT NULL,
    period_from  date        NOT NULL,
    period_to    date        NOT NULL,
    status       text        NOT NULL,              -- running | finished | failed
    stage        text,                              -- shopify | fortnox | comparing
    report       jsonb,
    error        text,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);
CREATE INDEX reconciliation_reports_shop ON reconciliation_reports (shop, started_at DESC);
