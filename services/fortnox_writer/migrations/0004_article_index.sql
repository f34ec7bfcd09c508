-- When the writer last read the full list of a shop's Fortnox articles into its cache, so a
-- catalog sync knows which articles exist (one list call per 500 articles, not one per article).
CREATE TABLE article_index (
    shop       text PRIMARY KEY,
    loaded_at  timestamptz NOT NULL DEFAULT now()
);
