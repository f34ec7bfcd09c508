-- The shop's settings are versioned like its rules: every change writes the whole stored
-- settings as a new version (old versions stay, with who changed what), and shop_settings holds
-- the current one with its version, which the admin API's optimistic concurrency compares.
ALTER TABLE shop_settings ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version > 0);
ALTER TABLE shop_settings ADD COLUMN actor text;

CREATE TABLE shop_settings_versions (
    shop       text        NOT NULL,
    version    integer     NOT NULL CHECK (version > 0),
    settings   jsonb       NOT NULL,
    change     text        NOT NULL,   -- 'update document_kind, trigger', 'before versioning'
    actor      text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop, version)
);

-- Settings stored before versioning become version 1 of their shop's history.
INSERT INTO shop_settings_versions (shop, version, settings, change, created_at)
SELECT shop, 1, settings, 'before versioning', updated_at FROM shop_settings;
