"""The period reconciliation report: Shopify beside Fortnox (issue 17)."""
