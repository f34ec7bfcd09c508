"""Prometheus metrics, one registry per process, names prefixed ``fortbridge_``.

Labels stay bounded: service, queue, topic, outcome, status; shop only where noted.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

WEBHOOKS_RECEIVED = Counter(
    "fortbridge_webhooks_received_total", "Shopify webhooks received", ["topic", "outcome"]
)
MESSAGES_PUBLISHED = Counter(
    "fortbridge_messages_published_total", "Messages confirmed by the broker", ["exchange"]
)
MESSAGES_PROCESSED = Counter(
    "fortbridge_messages_processed_total",
    "Messages handled by a consumer, by outcome",
    ["queue", "outcome"],
)
PROCESSING_SECONDS = Histogram(
    "fortbridge_processing_seconds",
    "Time to handle one message",
    ["queue"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
FORTNOX_REQUESTS = Counter(
    "fortbridge_fortnox_requests_total", "Requests to Fortnox", ["method", "endpoint", "status"]
)
FORTNOX_RATE_LIMIT_WAIT = Histogram(
    "fortbridge_fortnox_rate_limit_wait_seconds",
    "Time waited for a Fortnox rate-limit slot",
    buckets=(0, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
FORTNOX_429 = Counter("fortbridge_fortnox_429_total", "429 answers received from Fortnox")
SHOPIFY_REQUESTS = Counter(
    "fortbridge_shopify_requests_total", "Admin API requests to Shopify", ["operation", "outcome"]
)
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
FAILED_JOBS_OPEN = Gauge("fortbridge_failed_jobs_open", "Failed jobs not yet resolved", ["cause"])
REPLAYS = Counter("fortbridge_replays_total", "Failed jobs re-queued", ["mode"])
END_TO_END_SECONDS = Histogram(
    "fortbridge_end_to_end_seconds",
    "From webhook received to status written back to Shopify",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
)
