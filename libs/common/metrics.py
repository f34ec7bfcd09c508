"""Prometheus metrics, one registry per process, names prefixed ``fortbridge_``.

Labels stay bounded: service, queue, exchange, topic, reason, outcome, status, endpoint, route,
stage, cause, mode. ``shop`` appears only on failure counters (a series exists only for a shop
that failed, and the set of installed shops is bounded). Queue names include the namespace.

Where each is recorded: the consumer runner and the publisher (messages, queue depth), the HTTP
app factory (requests to every service), ingest (webhooks, reconciliation), the Fortnox client,
the Shopify client and the timeline (end to end); the writer and the replayer own the token,
connection, deferral, failed-job and replay metrics. The dashboard (deploy/grafana/dashboards)
and the alert rules (deploy/prometheus/alerts.yml) use only these names; tests/deploy checks that.
"""

from __future__ import annotations

from typing import Any, TypeVar

from prometheus_client import Counter, Gauge, Histogram

Metric = TypeVar("Metric", Counter, Gauge, Histogram)
# At most this many children are kept (labels are bounded; past it, labels() is called again).
_MAX_CHILDREN = 10_000
_children: dict[tuple[object, tuple[str, ...]], Any] = {}


def child(metric: Metric, *values: str) -> Metric:
    """The series of ``metric`` for these label values (in the metric's label order), made
    once and kept: prometheus_client's ``labels()`` checks and joins the values on every call
    (about 1.3 us, three times a webhook on ingest's hot path). Not for metrics whose series
    are removed (``remove``/``clear``: a kept child would no longer be exported)."""
    key = (metric, values)
    found = _children.get(key)
    if found is None:
        found = metric.labels(*values)
        if len(_children) < _MAX_CHILDREN:
            _children[key] = found
    return found


_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600)

# --- the edge -------------------------------------------------------------------------------------
WEBHOOKS_RECEIVED = Counter(
    "fortbridge_webhooks_received_total",
    "Shopify webhooks answered, by topic and outcome (stored, duplicate, rejected)",
    ["topic", "outcome"],
)
WEBHOOKS_REJECTED = Counter(
    "fortbridge_webhooks_rejected_total",
    "Shopify webhooks refused, by topic ('unverified' before the HMAC passed) and reason",
    ["topic", "reason"],
)
INGEST_BATCH_SIZE = Histogram(
    "fortbridge_ingest_batch_size",
    "Webhooks written by one group commit of ingest's inbox (one INSERT, one commit)",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
INGEST_PUBLISH_DEFERRED = Counter(
    "fortbridge_ingest_publish_deferred_total",
    "Stored webhook events ingest's fast path could not publish (the outbox relay publishes them)",
)
HTTP_REQUESTS = Counter(
    "fortbridge_http_requests_total",
    "HTTP requests served, by service, route template, method and status",
    ["service", "route", "method", "status"],
)
HTTP_REQUEST_SECONDS = Histogram(
    "fortbridge_http_request_seconds",
    "Time to answer an HTTP request",
    ["service", "route"],
    buckets=_LATENCY_BUCKETS,
)

# --- messaging ------------------------------------------------------------------------------------
MESSAGES_PUBLISHED = Counter(
    "fortbridge_messages_published_total", "Messages confirmed by the broker", ["exchange"]
)
MESSAGES_PROCESSED = Counter(
    "fortbridge_messages_processed_total",
    "Messages handled by a consumer, by outcome (done, retried, failed, requeued, ack_failed)",
    ["service", "queue", "outcome"],
)
MESSAGES_FAILED = Counter(
    "fortbridge_messages_failed_total",
    "Messages dead-lettered (they become failed jobs), by error class",
    ["service", "queue", "error_class"],
)
VIES_CHECKS = Counter(
    "fortbridge_vies_checks_total",
    "EU VAT numbers checked before reverse charge, by result (valid, invalid, bad_format, "
    "unavailable, waiting) and where the answer came from (vies, cache, format)",
    ["result", "source"],
)
SHOP_FAILURES = Counter(
    "fortbridge_shop_failures_total",
    "Messages dead-lettered per shop (a series exists only for shops that failed)",
    ["service", "shop"],
)
PROCESSING_SECONDS = Histogram(
    "fortbridge_processing_seconds",
    "Time to handle one message",
    ["service", "queue"],
    buckets=_LATENCY_BUCKETS,
)
MESSAGE_WAIT_SECONDS = Histogram(
    "fortbridge_message_wait_seconds",
    "Time a message waited in its queue before a handler took it (first deliveries)",
    ["queue"],
    buckets=_WAIT_BUCKETS,
)
QUEUE_MESSAGES = Gauge(
    "fortbridge_queue_messages",
    "Messages ready in a queue (sampled by each consuming replica: use max by queue)",
    ["queue"],
)
QUEUE_CONSUMERS = Gauge(
    "fortbridge_queue_consumers",
    "Consumers attached to a queue (sampled by each consuming replica: use max by queue)",
    ["queue"],
)

# --- Fortnox (the writer) -------------------------------------------------------------------------
FORTNOX_REQUESTS = Counter(
    "fortbridge_fortnox_requests_total", "Requests to Fortnox", ["method", "endpoint", "status"]
)
FORTNOX_RATE_LIMIT_WAIT = Histogram(
    "fortbridge_fortnox_rate_limit_wait_seconds",
    "Time waited for a Fortnox rate-limit slot",
    buckets=(0, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
FORTNOX_429 = Counter("fortbridge_fortnox_429_total", "429 answers received from Fortnox")
FORTNOX_TOKEN_REFRESHES = Counter(
    "fortbridge_fortnox_token_refreshes_total", "Fortnox access-token refreshes", ["outcome"]
)
FORTNOX_CONNECTIONS_NEEDING_RECONNECTION = Gauge(
    "fortbridge_fortnox_connections_needing_reconnection",
    "Fortnox connections a merchant must reconnect",
)
COMMANDS_DEFERRED = Counter(
    "fortbridge_commands_deferred_total",
    "Writer commands set aside instead of held (rate limit, parked connection)",
    ["reason"],
)

# --- usage billing (the writer, docs/billing.md) -----------------------------------------------
BILLING_CHARGES = Counter(
    "fortbridge_billing_charges_total",
    "Syncs charged: a trial credit or a usage charge, once per Shopify order",
    ["kind"],
)
BILLING_USAGE_RECORDS = Counter(
    "fortbridge_billing_usage_records_total", "Usage records Shopify answered with", ["outcome"]
)
BILLING_USAGE_RECORD_FAILURES = Counter(
    "fortbridge_billing_usage_record_failures_total",
    "Usage record calls that failed or timed out (retried until the record exists)",
    ["reason"],
)
BILLING_WAITING = Gauge(
    "fortbridge_billing_waiting_commands",
    "Writer commands waiting on billing (no trial credit left and no usable subscription)",
)
BILLING_USAGE_RECORDS_PENDING = Gauge(
    "fortbridge_billing_usage_records_pending", "Usage charges not yet recorded in Shopify"
)

# --- Shopify (the timeline) -----------------------------------------------------------------------
SHOPIFY_REQUESTS = Counter(
    "fortbridge_shopify_requests_total", "Admin API requests to Shopify", ["operation", "outcome"]
)
SHOPIFY_REQUEST_SECONDS = Histogram(
    "fortbridge_shopify_request_seconds",
    "Time of one Admin API request to Shopify",
    ["operation"],
    buckets=_LATENCY_BUCKETS,
)

# --- failed jobs (the replayer) -------------------------------------------------------------------
FAILED_JOBS_OPEN = Gauge("fortbridge_failed_jobs_open", "Failed jobs not yet resolved", ["cause"])
REPLAYS = Counter("fortbridge_replays_total", "Failed jobs re-queued", ["mode"])
OUTBOX_UNPUBLISHED = Gauge(
    "fortbridge_ingest_outbox_unpublished",
    "Webhook events stored by ingest but not yet published (the outbox relay's backlog), "
    "not counting events set aside",
)
OUTBOX_SET_ASIDE = Gauge(
    "fortbridge_ingest_outbox_set_aside",
    "Stored webhook events the outbox relay set aside because no valid message can be made of "
    "them (listed by GET /admin/api/webhooks/set_aside.json)",
)

# --- reconciliation (ingest) ----------------------------------------------------------------------
RECONCILE_RECOVERED = Counter(
    "fortbridge_reconcile_recovered_total",
    "Events ingest stored for orders and refunds Shopify never delivered by webhook, found by "
    "reconciliation, by topic (orders/create, orders/updated, orders/paid, orders/cancelled, "
    "refunds/create)",
    ["topic"],
)
RECONCILE_RUNS = Counter(
    "fortbridge_reconcile_runs_total",
    "Reconciliation runs of one shop, by outcome: finished, failed, busy (another replica held "
    "it), recent (reconciled within half an interval), skipped (not installed)",
    ["outcome"],
)

# --- inventory sync (ingest's rounds, the writer's set_stock, read_stock; docs/operations.md) --
# direction: to_fortnox (Shopify is the source) or to_shopify (Fortnox is the source).
INVENTORY_LEVELS_READ = Counter(
    "fortbridge_inventory_levels_read_total",
    "Stock levels read from the source: Shopify inventory items a round read (to_fortnox), "
    "Fortnox articles a read_stock listed (to_shopify)",
    ["direction"],
)
INVENTORY_LEVELS_PUSHED = Counter(
    "fortbridge_inventory_levels_pushed_total",
    "Stock levels written to the other side: Fortnox articles' QuantityInStock set by set_stock "
    "(to_fortnox), Shopify available quantities set (to_shopify)",
    ["direction"],
)
INVENTORY_LEVELS_FAILED = Counter(
    "fortbridge_inventory_levels_failed_total",
    "Stock levels that could not be synced (listed by the inventory status): an item without "
    "article number, an article Fortnox lacks, the warehouse module (to_fortnox); no variant "
    "with the SKU, a fraction, a refused write (to_shopify)",
    ["direction"],
)

# --- end to end -----------------------------------------------------------------------------------
END_TO_END_SECONDS = Histogram(
    "fortbridge_end_to_end_seconds",
    "From the webhook received to a stage: fortnox_document (the writer's result) or "
    "shopify_status (the status written back to Shopify); replays are not counted",
    ["stage"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600),
)
