-- The shop's mapping rules (services/mapper/rules), versioned: every change (create, update,
-- delete, reorder) inserts the whole ordered rule list as a new version; old versions stay, so
-- each command's rule_version always names the rules that made it.
CREATE TABLE rule_sets (
    shop       text        NOT NULL,
    version    integer     NOT NULL CHECK (version > 0),
    rules      jsonb       NOT NULL,
    change     text        NOT NULL,   -- 'create 12', 'update 12', 'delete 12', 'reorder'
    actor      text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop, version)
);
CREATE SEQUENCE rule_ids;

-- The latest full order payload the mapper saw per order: rule conditions for refunds, and the
-- preview endpoint by order id. Deleted with the shop's data on redaction.
CREATE TABLE order_payloads (
    shop       text        NOT NULL,
    order_id   text        NOT NULL,
    topic      text        NOT NULL,
    payload    jsonb       NOT NULL,
    updated_at timestamptz,
    stored_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop, order_id)
);
