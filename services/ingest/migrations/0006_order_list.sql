-- The app's Orders page lists a shop's orders, the most recently active first (order_list.py):
-- documents by their last result, and recent orders that have none yet by their last event.
CREATE INDEX order_documents_recent ON order_documents (shop, occurred_at DESC, order_id DESC);
CREATE INDEX webhook_events_recent_orders ON webhook_events (shop, received_at)
    WHERE order_id IS NOT NULL;
