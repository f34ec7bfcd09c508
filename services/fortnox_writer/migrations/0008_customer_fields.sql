-- Issue 18. What the writer last knew of each mirrored customer's fields (from Fortnox's list,
-- its own create and update answers), so a customer kept current from Shopify (an address
-- changed on a later order, customers/update) costs a Fortnox call only when a field Fortbridge
-- keeps current really changed (registers.CustomerRegister.keep_current).
ALTER TABLE customer_register ADD COLUMN fields jsonb NOT NULL DEFAULT '{}'::jsonb;
