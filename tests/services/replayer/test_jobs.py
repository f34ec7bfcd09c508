"""The failed-job store against real PostgreSQL: one job per message, pages, races, pacing."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest

from libs.common.metrics import FAILED_JOBS_OPEN, REPLAYS
from libs.common.privacy import Redaction
from services.replayer import audit, jobs, privacy
from services.replayer.filters import JobFilter, decode_cursor
from services.replayer.gauge import OpenJobsGauge
from services.replayer.replay import REPLAY_HEADER, REPLAY_OF_HEADER, Pacer, ReplayDrainer
from tests.services.replayer.support import (
    MAPPER_QUEUE,
    WRITER_QUEUE,
    RecordingPublisher,
    broker_headers,
    command_body,
    consumer_headers,
    new_shop,
    record,
)


async def test_same_message_failing_again_updates_its_one_job(replayer_pool: asyncpg.Pool) -> None:
    shop = new_shop()
    body = command_body(shop, 1, ("19",))
    first = consumer_headers(shop, at=datetime.now(UTC) - timedelta(minutes=5))
    job_id = await record(replayer_pool, first, body, message_id="cmd-1")
    assert job_id is not None
    # A duplicate of the same dead letter (redelivered to the replayer) changes nothing.
    assert await record(replayer_pool, dict(first), body, message_id="cmd-1") is None
    again = consumer_headers(shop, attempts=2)
    assert await record(replayer_pool, again, body, message_id="cmd-1") == job_id
    # The same message id failing in another queue is another job.
    other = consumer_headers(shop, queue=MAPPER_QUEUE, service="mapper")
    assert await record(replayer_pool, other, body, message_id="cmd-1") != job_id

    job = await jobs.get(replayer_pool, job_id)
    assert job is not None
    assert job["failures"] == 2 and job["attempts"] == 3
    assert job["status"] == "open"
    assert job["first_failed_at"] < job["last_failed_at"]
    assert job["cause"]["title"] == "VAT rate 19 % missing in Fortnox"
    assert job["object"] == {"type": "order", "id": "1", "name": "#1"}
    assert job["fortnox_code"] == "2000728" and job["fortnox_message"] == "Kunde inte hitta moms"
    assert job["routing_key"] == "fortnox.command.create_document"
    assert job["trace_id"] and job["fix"]


async def test_a_discarded_job_stays_discarded_when_it_fails_again(
    replayer_pool: asyncpg.Pool,
) -> None:
    shop = new_shop()
    job_id = await record(replayer_pool, consumer_headers(shop), b"{}", message_id="m")
    assert job_id is not None
    await jobs.discard(replayer_pool, job_id, actor="operator", reason="booked by hand")
    await record(replayer_pool, consumer_headers(shop, attempts=2), b"{}", message_id="m")
    job = await jobs.get(replayer_pool, job_id)
    assert job is not None and job["status"] == "discarded" and job["failures"] == 2
    with pytest.raises(jobs.JobStateError):
        await jobs.discard(replayer_pool, job_id, actor="operator", reason="again")


async def test_cursor_pages_return_every_job_once_while_jobs_fail_again(
    replayer_pool: asyncpg.Pool,
) -> None:
    shop = new_shop()
    ids = []
    for n in range(23):
        job_id = await record(replayer_pool, consumer_headers(shop), command_body(shop, n), f"m{n}")
        ids.append(job_id)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        after = decode_cursor(cursor) if cursor else None
        found, cursor = await jobs.page(replayer_pool, JobFilter(shop=shop), after=after, limit=5)
        seen.extend(job["id"] for job in found)
        pages += 1
        # Jobs failing again meanwhile keep their place in the order.
        await record(replayer_pool, consumer_headers(shop, attempts=pages + 1), b"{}", "m0")
        if cursor is None:
            break
    assert pages == 5
    assert sorted(seen) == sorted(str(job_id) for job_id in ids)
    assert len(seen) == len(set(seen))


async def test_causes_count_jobs_and_shops(replayer_pool: asyncpg.Pool) -> None:
    shops = [new_shop() for _ in range(3)]
    rate = f"{uuid.uuid4().int % 1000}.5"  # a cause of this test's own in the shared database
    for n, shop in enumerate(shops):
        await record(replayer_pool, consumer_headers(shop), command_body(shop, n, (rate,)))
        await record(replayer_pool, consumer_headers(shop), command_body(shop, n + 10, (rate,)))
    await record(replayer_pool, broker_headers(shops[0], "delivery_limit"), b"poison")
    found = await jobs.causes(replayer_pool, JobFilter())
    by_key = {cause["cause"]: cause for cause in found}
    vat = by_key[f"fortnox:2000728:vat-{rate}"]
    assert (vat["jobs"], vat["shops"], vat["open"]) == (6, 3, 6)
    assert vat["summary"] == f"VAT rate {rate} % missing in Fortnox: 6 jobs, 3 shops"
    assert by_key["delivery_limit:fortnox_writer"]["jobs"] >= 1
    [own] = await jobs.causes(replayer_pool, JobFilter(shop=shops[1]))
    assert (own["jobs"], own["shops"]) == (2, 1)


async def test_concurrent_retries_of_one_job_publish_once(replayer_pool: asyncpg.Pool) -> None:
    shop = new_shop()
    job_id = await record(replayer_pool, consumer_headers(shop), command_body(shop, 1), "cmd-9")
    assert job_id is not None
    publisher = RecordingPublisher(delay=0.1)
    before = REPLAYS.labels(mode="single")._value.get()
    outcomes = await asyncio.gather(
        *(jobs.retry(replayer_pool, publisher, job_id, actor="operator") for _ in range(5)),
        return_exceptions=True,
    )
    assert len(publisher.published) == 1
    assert sum(isinstance(o, dict) for o in outcomes) == 1
    assert sum(isinstance(o, jobs.JobStateError) for o in outcomes) == 4
    assert REPLAYS.labels(mode="single")._value.get() == before + 1
    [message] = publisher.published
    assert message.exchange == "" and message.routing_key == WRITER_QUEUE
    assert message.message_id == "cmd-9"
    assert message.message_type == "fortnox.command.v1"  # the dead letter's own type
    assert message.headers[REPLAY_HEADER] == "true"
    assert message.headers[REPLAY_OF_HEADER] == str(job_id)
    assert "x-fortbridge-error-class" not in message.headers
    assert "x-fortbridge-origin-at" not in message.headers  # not timed as a new sync
    assert "traceparent" not in message.headers  # the publisher injects the replay's own
    assert message.headers["x-fortbridge-original-traceparent"]
    job = await jobs.get(replayer_pool, job_id)
    assert job is not None and job["status"] == "retrying" and job["retries"] == 1
    entries, _ = await audit.page(
        replayer_pool, job_id=job_id, action=None, actor=None, before=None, limit=10
    )
    assert [(e["action"], e["actor"]) for e in entries] == [("retry", "operator")]


async def test_bulk_retry_queues_exactly_the_matching_open_jobs_and_drains_at_a_pace(
    replayer_pool: asyncpg.Pool,
) -> None:
    shop = new_shop()
    vat = [
        await record(replayer_pool, consumer_headers(shop), command_body(shop, n, ("19",)))
        for n in range(4)
    ]
    other = await record(replayer_pool, consumer_headers(shop, code="2000428"), b"{}")
    assert other is not None and vat[3] is not None
    await jobs.discard(replayer_pool, vat[3], actor="operator", reason="not ours")
    job_filter = JobFilter(shop=shop, cause="fortnox:2000728:vat-19")
    dry = await jobs.queue_matching(replayer_pool, job_filter, actor="a", dry_run=True)
    assert dry == (3, None)
    count, batch = await jobs.queue_matching(replayer_pool, job_filter, actor="operator")
    assert count == 3 and batch is not None
    waiting = await jobs.get(replayer_pool, vat[0])
    assert waiting is not None and waiting["status"] == "queued"
    assert waiting["replay_batch"] == str(batch) and waiting["queued_at"] is not None
    # Queuing again finds nothing open: a job is queued once.
    assert (await jobs.queue_matching(replayer_pool, job_filter, actor="operator"))[0] == 0

    publisher = RecordingPublisher()
    drainer = ReplayDrainer(replayer_pool, publisher, rate=10.0, poll_seconds=0.05)
    started = time.monotonic()
    while await drainer.drain_one():
        pass
    elapsed = time.monotonic() - started
    # (Other tests' leftover queued jobs share the database; only this shop's are checked.)
    mine = {str(job_id) for job_id in [*vat, other]}
    replayed = [p.headers[REPLAY_OF_HEADER] for p in publisher.published]
    assert sorted(r for r in replayed if r in mine) == sorted(str(job_id) for job_id in vat[:3])
    assert elapsed >= 0.18  # three slots 0.1 s apart
    batch_jobs, _ = await jobs.page(replayer_pool, JobFilter(batch_id=batch), after=None, limit=10)
    assert {job["status"] for job in batch_jobs} == {"retrying"}
    left = await jobs.get(replayer_pool, other)
    assert left is not None and left["status"] == "open"
    entries, _ = await audit.page(
        replayer_pool, job_id=vat[0], action="bulk_retry", actor=None, before=None, limit=10
    )
    [entry] = entries
    assert entry["job_count"] == 3 and entry["batch_id"] == str(batch)
    assert entry["filter"] == {"shop": shop, "cause": "fortnox:2000728:vat-19"}


class CountingDrainer(ReplayDrainer):
    """Counts its passes over the queued jobs."""

    passes = 0

    async def drain_one(self) -> bool:
        worked = await super().drain_one()
        self.passes += 1
        return worked


async def test_drainer_runs_in_the_background_and_stops_cleanly(
    replayer_pool: asyncpg.Pool,
) -> None:
    shop = new_shop()
    job_id = await record(replayer_pool, consumer_headers(shop), command_body(shop, 1))
    publisher = RecordingPublisher()
    drainer = CountingDrainer(replayer_pool, publisher, rate=50.0, poll_seconds=0.05)
    drainer.start()
    try:
        await jobs.queue_matching(replayer_pool, JobFilter(shop=shop), actor="operator")
        drainer.wake()
        for _ in range(100):
            if str(job_id) in {p.headers[REPLAY_OF_HEADER] for p in publisher.published}:
                break
            await asyncio.sleep(0.02)
        # A second replay of the job would come from a later pass: wait for one whole pass
        # after the one that published (not a fixed wait) before counting.
        passes = drainer.passes
        async with asyncio.timeout(5):
            while drainer.passes < passes + 2:
                await asyncio.sleep(0.02)
    finally:
        await drainer.stop()
    replayed = [p.headers[REPLAY_OF_HEADER] for p in publisher.published]
    assert replayed.count(str(job_id)) == 1


async def test_pacer_spaces_slots_across_callers(replayer_pool: asyncpg.Pool) -> None:
    name = f"test-{uuid.uuid4().hex[:6]}"
    pacers = [Pacer(replayer_pool, rate=20.0, name=name) for _ in range(2)]
    started = time.monotonic()
    await asyncio.gather(*(pacers[n % 2].wait() for n in range(6)))
    assert time.monotonic() - started >= 0.24  # 6 slots 0.05 s apart, shared by both


async def test_gauge_counts_unresolved_jobs_per_cause(replayer_pool: asyncpg.Pool) -> None:
    shop = new_shop()
    cause = "transient_exhausted:fortnox_writer:1000003"
    headers = consumer_headers(shop, error_class="transient_exhausted", code="1000003")
    job_id = await record(replayer_pool, headers, b"{}")
    assert job_id is not None
    gauge = OpenJobsGauge(replayer_pool)
    await gauge.refresh()
    count = FAILED_JOBS_OPEN.labels(cause=cause)._value.get()
    assert count >= 1
    await jobs.discard(replayer_pool, job_id, actor="operator", reason="test")
    await gauge.refresh()
    assert FAILED_JOBS_OPEN.labels(cause=cause)._value.get() == count - 1


async def test_a_jobs_answer_carries_what_the_operator_decides_by(
    replayer_pool: asyncpg.Pool,
) -> None:
    shop = new_shop()
    body = command_body(shop, 7, ("19",))
    job_id = await record(replayer_pool, consumer_headers(shop), body, message_id="cmd-7")
    assert job_id is not None
    job = await jobs.get(replayer_pool, job_id)
    assert job is not None
    assert job["shop"] == shop and job["document_key"] == f"{shop}:order:7:invoice"
    assert (job["service"], job["queue"], job["message_id"]) == (
        "fortnox_writer",
        WRITER_QUEUE,
        "cmd-7",
    )
    assert job["cause"] == {"key": "fortnox:2000728:vat-19", "title": job["cause"]["title"]}
    assert (job["error_class"], job["error_code"]) == ("permanent", "2000728")
    assert job["error_message"] == "Fortnox answered 400: Kunde inte hitta moms (code 2000728)"
    assert job["explanation"]  # the cause's explanation, in plain words
    assert (job["status_reason"], job["status_changed_by"], job["status_changed_at"]) == (
        None,
        None,
        None,
    )
    assert (job["last_retried_at"], job["queued_at"], job["replay_batch"]) == (None, None, None)
    assert job["headers"]["x-fortbridge-error-code"] == "2000728"
    assert job["message"]["document_key"] == f"{shop}:order:7:invoice"  # the body, parsed

    discarded = await jobs.discard(replayer_pool, job_id, actor="operator", reason="booked by hand")
    assert discarded is not None
    assert (discarded["status"], discarded["status_reason"], discarded["status_changed_by"]) == (
        "discarded",
        "booked by hand",
        "operator",
    )
    assert datetime.fromisoformat(discarded["status_changed_at"]).tzinfo is not None
    assert await jobs.get(replayer_pool, job_id) == discarded
    entries, _ = await audit.page(
        replayer_pool, job_id=job_id, action=None, actor=None, before=None, limit=10
    )
    assert [(e["action"], e["actor"], e["reason"]) for e in entries] == [
        ("discard", "operator", "booked by hand")
    ]
    assert await jobs.get(replayer_pool, uuid.uuid4()) is None
    assert await jobs.discard(replayer_pool, uuid.uuid4(), actor="o", reason="r") is None


async def test_a_job_in_a_state_that_forbids_the_action_says_why_and_shows_the_job(
    replayer_pool: asyncpg.Pool,
) -> None:
    shop = new_shop()
    job_id = await record(replayer_pool, consumer_headers(shop), command_body(shop, 1), "cmd-1")
    assert job_id is not None
    await jobs.retry(replayer_pool, RecordingPublisher(), job_id, actor="operator")
    with pytest.raises(jobs.JobStateError) as retrying:
        await jobs.retry(replayer_pool, RecordingPublisher(), job_id, actor="operator")
    assert str(retrying.value) == (
        "the job is already being retried; it returns to open if it fails again"
    )
    assert retrying.value.job["status"] == "retrying" and retrying.value.job["last_retried_at"]
    await jobs.discard(replayer_pool, job_id, actor="operator", reason="done by hand")
    with pytest.raises(jobs.JobStateError) as discarded:
        await jobs.retry(replayer_pool, RecordingPublisher(), job_id, actor="operator")
    assert str(discarded.value) == "the job was discarded; it will not be retried"
    with pytest.raises(jobs.JobStateError) as again:
        await jobs.discard(replayer_pool, job_id, actor="operator", reason="again")
    assert str(again.value) == "the job is already discarded"
    assert again.value.job["id"] == str(job_id)
    assert await jobs.retry(replayer_pool, RecordingPublisher(), uuid.uuid4(), actor="o") is None


async def test_a_page_of_exactly_the_limit_has_no_next_cursor(replayer_pool: asyncpg.Pool) -> None:
    shop = new_shop()
    for n in range(3):
        await record(replayer_pool, consumer_headers(shop), command_body(shop, n))
    found, cursor = await jobs.page(replayer_pool, JobFilter(shop=shop), after=None, limit=3)
    assert len(found) == 3 and cursor is None
    found, cursor = await jobs.page(replayer_pool, JobFilter(shop=shop), after=None, limit=2)
    assert len(found) == 2 and cursor is not None
    rest, end = await jobs.page(
        replayer_pool, JobFilter(shop=shop), after=decode_cursor(cursor), limit=2
    )
    assert len(rest) == 1 and end is None


async def test_a_cause_sums_up_one_job_one_shop_and_its_states(
    replayer_pool: asyncpg.Pool,
) -> None:
    shop = new_shop()
    rate = f"{uuid.uuid4().int % 1000}.25"
    first = await record(replayer_pool, consumer_headers(shop), command_body(shop, 1, (rate,)))
    [cause] = await jobs.causes(replayer_pool, JobFilter(shop=shop))
    assert cause["summary"] == f"VAT rate {rate} % missing in Fortnox: 1 job, 1 shop"
    assert cause["title"] == f"VAT rate {rate} % missing in Fortnox"
    assert (cause["error_class"], cause["fortnox_code"]) == ("permanent", "2000728")
    assert cause["fix"]
    assert datetime.fromisoformat(cause["first_failed_at"]) <= datetime.fromisoformat(
        cause["last_failed_at"]
    )
    second = await record(replayer_pool, consumer_headers(shop), command_body(shop, 2, (rate,)))
    await record(replayer_pool, consumer_headers(shop), command_body(shop, 3, (rate,)))
    assert first is not None and second is not None
    await jobs.retry(replayer_pool, RecordingPublisher(), first, actor="operator")
    await jobs.discard(replayer_pool, second, actor="operator", reason="by hand")
    [cause] = await jobs.causes(replayer_pool, JobFilter(shop=shop))
    assert (cause["jobs"], cause["open"], cause["retrying"], cause["discarded"]) == (3, 1, 1, 1)
    assert cause["summary"].endswith(": 3 jobs, 1 shop")


async def test_a_body_that_is_not_json_is_shown_as_text(replayer_pool: asyncpg.Pool) -> None:
    shop = new_shop()
    job_id = await record(replayer_pool, broker_headers(shop, "delivery_limit"), b"poison \xff")
    assert job_id is not None
    job = await jobs.get(replayer_pool, job_id)
    assert job is not None and job["message"] == "poison \ufffd"
    assert jobs.jsonable({"at": datetime(2026, 1, 2, tzinfo=UTC), 1: [b"x", Decimal("1.50")]}) == {
        "at": "2026-01-02T00:00:00+00:00",
        "1": ["x", "1.50"],
    }
    # Header bytes that are not UTF-8 are shown, with the undecodable byte replaced.
    assert jobs.jsonable({"x-raw": b"caf\xe9"}) == {"x-raw": "caf\ufffd"}


async def test_a_jobs_answer_carries_the_details_its_failing_step_recorded(
    replayer_pool: asyncpg.Pool,
) -> None:
    shop = new_shop()
    headers = consumer_headers(shop, code="total_mismatch", source_message=None)
    headers["x-fortbridge-error-details"] = (
        '{"document_number": "1042", "fortnox_total": "1249.00", "expected_total": "1250.00"}'
    )
    job_id = await record(replayer_pool, headers, command_body(shop, 8, ("25",)))
    assert job_id is not None
    job = await jobs.get(replayer_pool, job_id)
    assert job is not None
    assert job["details"] == {
        "document_number": "1042",
        "fortnox_total": "1249.00",
        "expected_total": "1250.00",
    }
    plain = await record(replayer_pool, consumer_headers(shop), command_body(shop, 9, ("19",)))
    assert plain is not None
    found = await jobs.get(replayer_pool, plain)
    assert found is not None and found["details"] is None


async def test_a_customer_redaction_also_clears_the_jobs_recorded_details(
    replayer_pool: asyncpg.Pool,
) -> None:
    shop = new_shop()
    headers = consumer_headers(shop)
    headers["x-fortbridge-error-details"] = '{"customer_numbers": ["17", "18"]}'
    job_id = await record(replayer_pool, headers, command_body(shop, 11, ("19",)))
    assert job_id is not None
    kept = await record(replayer_pool, dict(headers), command_body(shop, 12, ("19",)))
    assert kept is not None
    await privacy.redact(
        replayer_pool,
        Redaction(shop=shop, scope="customer", customer_id="5", email=None, order_ids=("11",)),
    )
    redacted = await jobs.get(replayer_pool, job_id)
    assert redacted is not None
    assert (redacted["status"], redacted["details"]) == ("discarded", None)
    other = await jobs.get(replayer_pool, kept)
    assert other is not None and other["details"] == {"customer_numbers": ["17", "18"]}
