-- Privacy webhooks (customers/redact, customers/data_request, shop/redact).
-- When a stored body had its personal data redacted (customers/redact).
ALTER TABLE webhook_events ADD COLUMN redacted_at timestamptz;

-- customers/data_request: the report of what ingest holds about the customer, one per request.
CREATE TABLE data_requests (
    shop         text        NOT NULL,
    request_id   text        NOT NULL,
    customer_id  text,
    report       jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop, request_id)
);
