"""Reconciliation: orders, payments, cancellations and refunds Shopify never delivered by webhook.

Shopify delivers webhooks at least once, but not always (failed deliveries, subscriptions
removed after repeated failures, an outage here). Every ``RECONCILE_INTERVAL_SECONDS`` each
ingest replica goes over the installed shops; for a shop no other replica holds (an advisory
lock), it pages Shopify's orders updated since the shop's checkpoint (``listing.py``), compares
them with the events ingest stored (``stored.py``) and stores what is missing through the
normal store-and-publish path (``recover.py``), under deterministic webhook ids so that no run
and no replica stores an event twice. The checkpoint (``checkpoints.py``) moves only after a
page was fully handled. ``runner.py`` runs the rounds, ``routes.py`` shows them and runs one now.
"""
