-- Commands set aside instead of held unacked: waiting for their tenant's rate-limit slot
-- (reason 'rate_limit'), for a retry after a transient error ('retry'), or for the merchant to
-- reconnect Fortnox ('parked'). Stored before the broker message is acked; a per-replica
-- scheduler drains them per tenant, round-robin, as their slots come due.
CREATE TABLE deferred_commands (
    id            bigserial PRIMARY KEY,
    command_id    text        NOT NULL UNIQUE,
    shop          text        NOT NULL,
    tenant_id     text,
    document_key  text        NOT NULL,
    routing_key   text        NOT NULL,
    message_id    text,
    body          bytea       NOT NULL,
    headers       jsonb       NOT NULL DEFAULT '{}',
    reason        text        NOT NULL,            -- rate_limit | retry | parked
    attempts      integer     NOT NULL DEFAULT 0,  -- transient failures so far
    due_at        timestamptz NOT NULL DEFAULT now(),
    claimed_by    text,
    claimed_until timestamptz,
    last_error    text,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deferred_commands_ready ON deferred_commands (tenant_id, id) WHERE reason <> 'parked';
CREATE INDEX deferred_commands_parked ON deferred_commands (shop) WHERE reason = 'parked';
