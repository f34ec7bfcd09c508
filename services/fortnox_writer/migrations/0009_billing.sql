-- Usage billing (docs/billing.md): per shop its plan and Shopify subscription, and one charge
-- per Shopify order that got a Fortnox invoice or order, ever (UNIQUE (shop, order_id)).
CREATE TABLE billing_accounts (
    shop                 text PRIMARY KEY,
    subscription_id      text,                 -- gid://shopify/AppSubscription/..
    line_item_id         text,                 -- its usage line item
    status               text NOT NULL DEFAULT 'none',  -- none | PENDING | ACTIVE | DECLINED |
                                                -- FROZEN | CANCELLED | EXPIRED
    confirmation_url     text,
    capped_amount        numeric(12, 2),
    currency             text,
    balance_used         numeric(12, 2) NOT NULL DEFAULT 0,  -- as Shopify last reported it
    cycle_started_at     timestamptz,
    approaching_cap_at   timestamptz,          -- app_subscriptions/approaching_capped_amount
    creating_until       timestamptz,          -- one replica creates a subscription at a time
    refreshed_at         timestamptz,
    updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE billing_charges (
    id               bigserial PRIMARY KEY,
    shop             text        NOT NULL,
    order_id         text        NOT NULL,
    document_key     text        NOT NULL,
    kind             text        NOT NULL CHECK (kind IN ('trial', 'usage')),
    state            text        NOT NULL CHECK (state IN ('reserved', 'charged')),
    price            numeric(12, 2) NOT NULL DEFAULT 0,
    currency         text,
    line_item_id     text,
    idempotency_key  text        NOT NULL,
    -- usage records (an outbox): pending until Shopify answered with its record
    usage_status     text CHECK (usage_status IN ('pending', 'recorded')),
    usage_record_id  text,
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    claimed_until    timestamptz,
    last_error       text,
    reserved_at      timestamptz NOT NULL DEFAULT now(),
    charged_at       timestamptz,
    recorded_at      timestamptz,
    UNIQUE (shop, order_id)
);
CREATE INDEX billing_charges_pending ON billing_charges (next_attempt_at)
    WHERE usage_status = 'pending';
CREATE INDEX billing_charges_kind ON billing_charges (shop, kind);
CREATE INDEX deferred_commands_billing ON deferred_commands (shop, id) WHERE reason = 'billing';
