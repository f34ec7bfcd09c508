"""The local stack with test timings: short retry delays, a quick relay and short timeouts."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fortbridge.localstack import SHOPIFY_SECRET, LocalStack, local_stack
from tests.support.fast_lane import note_slow_work

Stack = LocalStack
__all__ = ["SHOPIFY_SECRET", "Stack", "running_stack"]

TEST_SETTINGS: dict[str, Any] = {
    "amqp_retry_delays": (0.2, 0.5, 1.0),
    "amqp_max_attempts": 4,
    "amqp_delivery_limit": 3,
    "fortnox_timeout_seconds": 3.0,
    "outbox_relay_interval_seconds": 0.2,
    "outbox_relay_age_seconds": 1.0,
    # Tests put an order in the Shopify simulator and reconcile at once.
    "reconcile_settle_seconds": 0.0,
    # The pre-flight sweep would add register reads to tests that count Fortnox calls; the
    # pre-flight tests run it themselves (check.sweep()).
    "preflight_sweep_seconds": 0.0,
}


@contextlib.asynccontextmanager
async def running_stack(**kwargs: Any) -> AsyncIterator[LocalStack]:
    note_slow_work("the whole stack")
    async with local_stack(**{**TEST_SETTINGS, **kwargs}) as stack:
        yield stack
