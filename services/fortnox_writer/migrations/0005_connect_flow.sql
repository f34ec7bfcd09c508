-- Issue 12: connecting Fortnox needs a caller authenticated for the shop, a single-use state
-- bound to the browser, and never replaces the shop's company without being asked to.

-- A launch ticket: issued by POST /auth/fortnox/start.json to an authenticated caller, redeemed
-- once by the browser at GET /auth/fortnox/launch. Only its SHA-256 is stored.
CREATE TABLE connect_tickets (
    ticket_hash    bytea PRIMARY KEY,
    shop           text        NOT NULL,
    principal      text        NOT NULL,                 -- who started it (access Principal.name)
    features       text[]      NOT NULL DEFAULT '{}',
    switch_company boolean     NOT NULL DEFAULT false,
    current_tenant text,                                 -- the shop's tenant at start, if any
    expires_at     timestamptz NOT NULL,
    used_at        timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX connect_tickets_expiry ON connect_tickets (expires_at);

-- The OAuth state's nonce (SHA-256 only): consumed once by the callback.
CREATE TABLE oauth_states (
    nonce_hash     bytea PRIMARY KEY,
    shop           text        NOT NULL,
    principal      text        NOT NULL,
    features       text[]      NOT NULL DEFAULT '{}',
    switch_company boolean     NOT NULL DEFAULT false,
    current_tenant text,
    expires_at     timestamptz NOT NULL,
    used_at        timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX oauth_states_expiry ON oauth_states (expires_at);

-- Who connected, reconnected or switched a shop's Fortnox company, and what became of the work
-- held back by a switch (released to the new company or discarded).
CREATE TABLE connection_audit (
    id           bigserial PRIMARY KEY,
    shop         text        NOT NULL,
    action       text        NOT NULL,  -- connected | reconnected | switched | released | discarded
    actor        text        NOT NULL,
    from_tenant  text,
    to_tenant    text,
    from_company text,
    to_company   text,
    commands     integer     NOT NULL DEFAULT 0,  -- work held back, released or discarded
    at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX connection_audit_shop ON connection_audit (shop, id);

-- The connected company's name (CompanyName), and the shop's last company switch: commands
-- published before it are held back rather than sent to the new company.
ALTER TABLE connections
    ADD COLUMN company_name         text,
    ADD COLUMN switched_at          timestamptz,
    ADD COLUMN switched_from_tenant text;

-- A command held back by a company switch: parked, and not resumed by a reconnection, until the
-- merchant releases it (or the shop reconnects to this, the old, company).
ALTER TABLE deferred_commands ADD COLUMN held_from_tenant text;

-- The company each document was made in: a credit, payment or update of a document made in
-- another company is refused instead of being applied to an unrelated document of the new one.
ALTER TABLE documents ADD COLUMN tenant_id text;
UPDATE documents d SET tenant_id = c.tenant_id
FROM connections c
WHERE c.shop = d.shop AND d.status = 'created';
