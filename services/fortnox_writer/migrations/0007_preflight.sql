-- The pre-flight check of each shop's Fortnox (services/fortnox_writer/preflight/): the last
-- result, and when the next run is due (at connect, daily, on demand).
CREATE TABLE preflight_results (
    shop        text        PRIMARY KEY,
    status      text        NOT NULL DEFAULT 'pending',  -- pending | ok | warnings | problems
    tenant_id   text,
    checked_at  timestamptz,
    findings    jsonb       NOT NULL DEFAULT '[]',
    due_at      timestamptz,                              -- run by the sweep at or after this
    running_at  timestamptz,                              -- a run started (lease of a replica)
    error       text                                      -- why the last run could not finish
);
CREATE INDEX preflight_results_due ON preflight_results (due_at) WHERE due_at IS NOT NULL;
