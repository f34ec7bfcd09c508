"""The fortnox_writer service: the only caller of Fortnox.

Layers, each calling only down:

    intake (the queue consumer: admission, run now or set aside)   intake.py, admission.py
      -> scheduler (the loop over set-aside work)                   scheduler.py
        -> executor (lease, run one command, publish its result)    executor.py, results.py
          -> operations (create, update, reverse, pay, catalog)     operations/
            -> the Fortnox client and modules, and the stores       client.py, credits.py,
               (ledger, links, leases, deferred, registers, ...)    fortnox_documents.py, ...

Everything is built here in ``_start`` and kept on the app (no module globals).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from libs.common.crypto import TokenCipher
from libs.common.messaging import WRITER_COMMANDS
from libs.common.service import ConsumerSpec, Runtime, ServiceDefinition
from libs.common.shopify_admin import ShopifyAdmin
from libs.common.shops import ShopRegistry
from services.fortnox_writer.admission import Admission, TenantGate, rules_for
from services.fortnox_writer.billing_ledger import BillingLedger
from services.fortnox_writer.billing_routes import add_billing_routes
from services.fortnox_writer.clock import SystemClock
from services.fortnox_writer.connections import ConnectionStore
from services.fortnox_writer.deferred import DeferredStore
from services.fortnox_writer.executor import Executor
from services.fortnox_writer.intake import CommandIntake
from services.fortnox_writer.leases import Leases
from services.fortnox_writer.preflight import routes as preflight_routes
from services.fortnox_writer.preflight.check import PreflightCheck
from services.fortnox_writer.ratelimit import RateLimiter, rate_limiter
from services.fortnox_writer.reconciliation import routes as report_routes
from services.fortnox_writer.reconciliation.jobs import ReportRunner
from services.fortnox_writer.routes import add_routes
from services.fortnox_writer.scheduler import Scheduler
from services.fortnox_writer.subscriptions import Subscriptions
from services.fortnox_writer.usage_records import UsageRecords


@dataclass
class Writer:
    """The running writer of one service instance."""

    scheduler: Scheduler
    intake: CommandIntake
    limiter: RateLimiter
    reports: ReportRunner
    usage_records: UsageRecords
    subscriptions: Subscriptions
    billing: BillingLedger
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


WRITER = web.AppKey("fortnox_writer", list[Writer])


def connection_store(runtime: Runtime) -> ConnectionStore:
    cipher = TokenCipher(runtime.settings.token_encryption_keys.get_secret_value())
    return ConnectionStore(runtime.pool, cipher, runtime.http, runtime.settings)


def build_writer(runtime: Runtime) -> Writer:
    settings, clock = runtime.settings, SystemClock()
    limiter = rate_limiter(runtime.pool, settings, clock)
    leases = Leases(runtime.pool, clock)
    connections = connection_store(runtime)
    billing = BillingLedger(runtime.pool, settings)
    cipher = TokenCipher(settings.token_encryption_keys.get_secret_value())
    subscriptions = Subscriptions(
        runtime.pool,
        settings,
        billing,
        ShopifyAdmin(runtime.http, settings.shopify_admin_url, settings.shopify_api_version),
        ShopRegistry(runtime.pool, cipher),
    )
    executor = Executor(
        runtime,
        connections,
        limiter,
        leases,
        clock,
        billing=billing,
        start_subscription=subscriptions.start,
    )
    store = DeferredStore(runtime.pool, f"writer-{uuid.uuid4().hex[:12]}")
    gate = TenantGate()
    scheduler = Scheduler(
        settings=settings,
        service=runtime.name,
        topology=runtime.topology,
        publisher=runtime.publisher,
        store=store,
        executor=executor,
        limiter=limiter,
        gate=gate,
        clock=clock,
    )
    intake = CommandIntake(
        pool=runtime.pool,
        settings=settings,
        store=store,
        admission=Admission(store, rules_for(settings)),
        gate=gate,
        executor=executor,
        wake_scheduler=scheduler.wake,
        subscriptions=subscriptions,
    )
    reports = ReportRunner(runtime, connections, limiter, store)
    usage_records = UsageRecords(runtime.pool, settings, billing, subscriptions)
    return Writer(scheduler, intake, limiter, reports, usage_records, subscriptions, billing)


def preflight_check(runtime: Runtime, limiter: RateLimiter) -> PreflightCheck:
    return PreflightCheck(
        pool=runtime.pool,
        http=runtime.http,
        settings=runtime.settings,
        connections=connection_store(runtime),
        limiter=limiter,
    )


def _routes(app: web.Application) -> None:
    add_routes(app)
    report_routes.add_routes(app)
    preflight_routes.add_routes(app)
    add_billing_routes(app)
    app[WRITER] = []


async def _start(runtime: Runtime, app: web.Application) -> Sequence[ConsumerSpec]:
    writer = build_writer(runtime)
    app[WRITER].append(writer)
    app[report_routes.REPORTS].append(writer.reports)
    await writer.reports.resume()
    # The scheduler drains set-aside commands (rate limit, retries, parked -> resumed).
    writer.tasks.append(asyncio.create_task(writer.scheduler.run_forever()))
    # The pre-flight check: on demand (routes), and the sweep of checks due (connect, daily).
    check = preflight_check(runtime, writer.limiter)
    app[preflight_routes.PREFLIGHT].append(check)
    writer.tasks.append(asyncio.create_task(check.run_forever()))
    if runtime.settings.billing_enabled:  # usage records: each usage charge once in Shopify
        writer.tasks.append(asyncio.create_task(writer.usage_records.run_forever()))
    return [ConsumerSpec(WRITER_COMMANDS, writer.intake)]


async def _stop(runtime: Runtime, app: web.Application) -> None:
    for writer in app[WRITER]:
        for task in writer.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await writer.scheduler.stop()
        await writer.reports.stop()
    app[WRITER].clear()
    app[report_routes.REPORTS].clear()
    app[preflight_routes.PREFLIGHT].clear()


definition = ServiceDefinition(
    name="fortnox_writer",
    default_port=8082,
    migrations=Path(__file__).parent / "migrations",
    routes=_routes,
    on_start=_start,
    on_stop=_stop,
)
