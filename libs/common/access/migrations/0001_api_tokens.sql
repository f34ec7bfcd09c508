-- Operator API tokens: stored as SHA-256 hashes, scoped to one shop, revocable.
CREATE TABLE api_tokens (
    id          bigserial PRIMARY KEY,
    token_hash  bytea NOT NULL UNIQUE,
    prefix      text NOT NULL,
    shop        text NOT NULL,
    scopes      text[] NOT NULL,
    label       text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX api_tokens_shop ON api_tokens (shop);
