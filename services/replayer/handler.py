"""The replayer's consumer: every dead letter becomes (or updates) exactly one failed job."""

from __future__ import annotations

import hashlib

from libs.common.logs import get_logger
from libs.common.messaging import Delivery
from libs.common.messaging.publisher import SCHEMA_HEADER
from libs.common.privacy import redaction_of
from libs.common.service import Runtime
from services.replayer import causes, dead_letters, jobs, privacy

log = get_logger(__name__)


class DeadLetterHandler:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    async def __call__(self, delivery: Delivery) -> None:
        redaction = redaction_of(delivery)
        if redaction is not None:  # a privacy webhook, not a dead letter
            await privacy.redact(self._runtime.pool, redaction)
            return
        dead = dead_letters.read(
            delivery.headers, fallback_queue=delivery.routing_key, routing_key=delivery.routing_key
        )
        cause = causes.classify(dead, delivery.body)
        subject = causes.subject_of(delivery.headers, delivery.body)
        schema = delivery.headers.get(SCHEMA_HEADER)
        job_id = await jobs.record(
            self._runtime.pool,
            message_id=delivery.message_id or hashlib.sha256(delivery.body).hexdigest(),
            message_type=schema.decode() if isinstance(schema, bytes) else schema,
            headers=delivery.headers,
            body=delivery.body,
            dead=dead,
            cause=cause,
            subject=subject,
        )
        if job_id is None:
            log.info("duplicate dead letter ignored", queue=dead.queue, failure=dead.failure_id)
            return
        log.warning(
            "failed job recorded",
            job_id=str(job_id),
            queue=dead.queue,
            shop=subject.shop,
            error_class=dead.error_class,
            error_code=dead.error_code,
            cause=cause.key,
        )
