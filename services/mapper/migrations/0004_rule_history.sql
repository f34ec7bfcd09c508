-- Field templates moved to Liquid (services/mapper/rules/migrate_liquid.py): each rule-set
-- version says which syntax its templates are in. Rows written before this migration, and any
-- an older release writes during a rolling deploy, are 'legacy'; this release writes 'liquid'
-- and moves each shop's current rules to Liquid at start.
ALTER TABLE rule_sets
    ADD COLUMN template_syntax text NOT NULL DEFAULT 'legacy'
        CHECK (template_syntax IN ('legacy', 'liquid'));

-- When a command was last planned under a rule-set version: the history pruner keeps versions
-- that work in flight may still name (services/mapper/rules/history.py).
CREATE TABLE rule_version_uses (
    shop         text        NOT NULL,
    version      integer     NOT NULL,
    last_used_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop, version)
);
