"""End-to-end latency: from the webhook received (ingest) to the Fortnox document and to the
status written back to Shopify. The origin travels in a message header (the consumer runner
puts it in scope while the handler runs); replays carry none and are not counted."""

from __future__ import annotations

import time
from datetime import datetime

from libs.common.messaging.publisher import current_origin_at
from libs.common.metrics import END_TO_END_SECONDS

FORTNOX_DOCUMENT = "fortnox_document"
SHOPIFY_STATUS = "shopify_status"


def observe(stage: str, at: datetime | None = None) -> None:
    """Record ``stage`` reached at ``at`` (default: now), if the origin is known."""
    origin = current_origin_at()
    if origin is None:
        return
    reached = at.timestamp() if at is not None else time.time()
    END_TO_END_SECONDS.labels(stage=stage).observe(max(0.0, reached - origin / 1000))
