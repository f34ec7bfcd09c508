-- Every event the mapper handled, with what it did (inbox: one row per event).
CREATE TABLE processed_events (
    event_uid    text PRIMARY KEY,
    shop         text        NOT NULL,
    topic        text        NOT NULL,
    outcome      text        NOT NULL,   -- 'command' | 'skipped'
    reason       text,
    command_id   text,
    processed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX processed_events_shop ON processed_events (shop, processed_at);
