-- Per-order accounting state: what was invoiced per row, what has been credited, the last
-- applied updated_at, whether Fortnox's one credit was used (services/mapper/accounting/state.py).
CREATE TABLE order_state (
    shop             text        NOT NULL,
    order_id         text        NOT NULL,
    state            jsonb       NOT NULL,
    last_updated_at  timestamptz,
    full_credit_used boolean     NOT NULL DEFAULT false,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop, order_id)
);

-- A shop's accounting settings (services/mapper/accounting/settings.py); absent = defaults.
-- The rules engine writes these; the mapper only reads them.
CREATE TABLE shop_settings (
    shop       text PRIMARY KEY,
    settings   jsonb       NOT NULL DEFAULT '{}'::jsonb,
    updated_at timestamptz NOT NULL DEFAULT now()
);
