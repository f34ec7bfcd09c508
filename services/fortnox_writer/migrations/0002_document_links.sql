-- Issue 3: every contract action (create, reverse, update, payment) is a ledger row in
-- documents, keyed by the command's document_key, with its intent recorded before the call.
ALTER TABLE documents
    ADD COLUMN action              text NOT NULL DEFAULT 'create_document',
    ADD COLUMN target_document_key text,
    -- how it ended: created | cancelled | credited | updated | replaced | paid | skipped
    ADD COLUMN outcome             text,
    -- the follow-up steps after the Fortnox write (bookkeep, e-mail) are done too
    ADD COLUMN finished_at         timestamptz,
    -- on a created document: the Shopify updated_at of the last version applied to it
    ADD COLUMN source_updated_at   timestamptz,
    -- when a Fortnox write of this key last timed out on our side (it may still commit late)
    ADD COLUMN timed_out_at        timestamptz;

-- Corrections: a reverse or update command acted on the target's current Fortnox document.
-- A booked document updated is credited and replaced: the replacement carries the original's
-- ExternalInvoiceReference1 with a version suffix (-v2, -v3, ...) and becomes the target's
-- current document. Reserved (intent) before the first Fortnox call; numbers filled as made.
CREATE TABLE document_links (
    command_key           text PRIMARY KEY,
    target_key            text        NOT NULL,
    relation              text        NOT NULL, -- cancel | credit | update | replace
    original_number       text        NOT NULL, -- the Fortnox document acted on
    original_kind         text        NOT NULL, -- invoice | order
    version               integer     NOT NULL, -- the replacement's version (1 without one)
    credit_number         text,
    replacement_reference text,
    replacement_number    text,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX document_links_target ON document_links (target_key, version);
