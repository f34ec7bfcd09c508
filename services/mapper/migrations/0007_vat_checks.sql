-- Issue 18. What VIES said about a shop's customers' EU VAT numbers (services/mapper/vies.py):
-- a valid or invalid answer with VIES's requestDate and consultation number, reused for
-- VIES_CACHE_DAYS; while VIES is unreachable, since when (VIES_UNAVAILABLE=wait_then_vat waits
-- that long at most before booking the order with VAT).
CREATE TABLE vat_checks (
    shop               text        NOT NULL,
    vat_number         text        NOT NULL,  -- with its VIES country prefix, e.g. DE123456789
    valid              boolean,               -- NULL: never answered
    checked_at         timestamptz,           -- VIES's requestDate of the last answer
    consultation       text,                  -- VIES's requestIdentifier, when it gave one
    trader_name        text,
    unavailable_since  timestamptz,           -- VIES unreachable since (NULL once it answered)
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop, vat_number)
);
