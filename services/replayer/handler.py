"""The replayer's consumer: every dead letter becomes (or updates) one failed job."""

from __future__ import annotations

import hashlib

from libs.common.logs import get_logger
from libs.common.messaging import Delivery
from libs.common.service import Runtime
from services.replayer import dead_letters, jobs

log = get_logger(__name__)


class DeadLetterHandler:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    async def __call__(self, delivery: Delivery) -> None:
        dead = dead_letters.read(delivery.headers, fallback_queue=delivery.routing_key)
        job_id = await jobs.record(
            self._runtime.pool,
            message_id=delivery.message_id or hashlib.sha256(delivery.body).hexdigest(),
            routing_key=delivery.routing_key,
            message_type=None,
            headers=delivery.headers,
            body=delivery.body,
            dead=dead,
        )
        log.warning(
            "failed job recorded",
            job_id=str(job_id),
            queue=dead.queue,
            error_class=dead.error_class,
            error_code=dead.error_code,
        )
