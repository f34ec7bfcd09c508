"""The shops that installed the app, and their Shopify access (shared by the services).

Written by the install flow and app/uninstalled (ingest) and the CLI; read by every service
that calls Shopify (ingest's order fetch and catalog sync, the timeline's status mirror) and by
those that stop work for an uninstalled shop.
"""

from libs.common.shops.registry import (
    MIGRATIONS,
    SCHEMA,
    Installation,
    ShopRegistry,
    is_uninstalled,
)

__all__ = ["MIGRATIONS", "SCHEMA", "Installation", "ShopRegistry", "is_uninstalled"]
