-- The shops that installed the app: their Shopify offline token (encrypted) and state.
CREATE TABLE installations (
    shop            text PRIMARY KEY,
    access_token    bytea,
    scopes          text NOT NULL DEFAULT '',
    status          text NOT NULL CHECK (status IN ('installed', 'uninstalled')),
    installed_at    timestamptz NOT NULL DEFAULT now(),
    uninstalled_at  timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
