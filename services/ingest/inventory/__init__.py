"""Inventory sync: Shopify's available quantities and Fortnox's article stock kept in step in
the direction the shop picked (mapper settings ``inventory_source``). See sync.py."""
