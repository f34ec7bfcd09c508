"""The ingest service: Shopify's HTTP edge."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from aiohttp import web

from libs.common import database
from libs.common.messaging import INGEST_RESULTS
from libs.common.service import ConsumerSpec, Runtime, ServiceDefinition
from services.ingest import (
    events,
    install,
    installation,
    order_list,
    orders_admin,
    privacy,
    set_aside,
)
from services.ingest.backfill import routes as backfill_routes
from services.ingest.backfill.runner import BackfillRunner
from services.ingest.catalog import routes as catalog_routes
from services.ingest.catalog.runner import CatalogRunner
from services.ingest.intake import Intake
from services.ingest.inventory import routes as inventory_routes
from services.ingest.inventory.sync import InventorySync
from services.ingest.reconcile import routes as reconcile_routes
from services.ingest.reconcile.runner import Reconciler
from services.ingest.results import ResultProjection
from services.ingest.routes import INTAKE, add_routes
from services.ingest.webapp import devlogin
from services.ingest.webapp import routes as webapp

# Ingest's background loops: the outbox relay and the reconciliation rounds.
RELAY_TASK = web.AppKey("outbox_relay", list[asyncio.Task[None]])


def _routes(app: web.Application) -> None:
    add_routes(app)
    orders_admin.add_routes(app)
    order_list.add_routes(app)
    installation.add_routes(app)
    install.add_routes(app)
    privacy.add_routes(app)
    catalog_routes.add_routes(app)
    backfill_routes.add_routes(app)
    reconcile_routes.add_routes(app)
    inventory_routes.add_routes(app)
    set_aside.add_routes(app)
    webapp.add_routes(app)
    devlogin.add_routes(app)
    app[RELAY_TASK] = []


async def _start(runtime: Runtime, app: web.Application) -> None:
    # The group commit's own connections (a writer each, the marker): it runs only single
    # INSERT and UPDATE statements, so they are released without asyncpg's reset query.
    intake_pool = await database.create_pool(
        runtime.settings.database_url,
        max_size=runtime.settings.ingest_writers + 1,
        reset=database.release_as_is,
    )
    app[INTAKE].append(
        Intake(
            intake_pool,
            runtime.publisher,
            writers=runtime.settings.ingest_writers,
            publishers=runtime.settings.ingest_publishers,
            write_wait=runtime.settings.ingest_write_wait_seconds,
        )
    )
    runner = CatalogRunner(runtime)
    app[catalog_routes.RUNNER].append(runner)
    await runner.resume()
    backfill = BackfillRunner(runtime)
    app[backfill_routes.RUNNER].append(backfill)
    await backfill.resume()
    reconciler = Reconciler(runtime)
    app[reconcile_routes.RECONCILER].append(reconciler)
    if runtime.settings.reconcile_interval_seconds > 0:
        app[RELAY_TASK].append(asyncio.create_task(reconciler.run_forever()))
    inventory = InventorySync(runtime)
    app[inventory_routes.SYNC].append(inventory)
    if runtime.settings.inventory_interval_seconds > 0:
        app[RELAY_TASK].append(asyncio.create_task(inventory.run_forever()))
    app[RELAY_TASK].append(
        asyncio.create_task(
            events.relay_forever(
                runtime.pool,
                runtime.publisher,
                interval=runtime.settings.outbox_relay_interval_seconds,
                older_than=runtime.settings.outbox_relay_age_seconds,
            )
        )
    )


async def _stop(_runtime: Runtime, app: web.Application) -> None:
    for intake in app[INTAKE]:
        await intake.close()
        await intake.pool.close()
    for runner in app[catalog_routes.RUNNER]:
        await runner.stop()
    for backfill in app[backfill_routes.RUNNER]:
        await backfill.stop()
    for reconciler in app[reconcile_routes.RECONCILER]:
        await reconciler.stop()
    for inventory in app[inventory_routes.SYNC]:
        await inventory.stop()
    for task in app[RELAY_TASK]:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _consumers(runtime: Runtime) -> list[ConsumerSpec]:
    return [ConsumerSpec(INGEST_RESULTS, ResultProjection(runtime))]


definition = ServiceDefinition(
    name="ingest",
    consumers=_consumers,
    default_port=8080,
    migrations=Path(__file__).parent / "migrations",
    routes=_routes,
    on_start=_start,
    on_stop=_stop,
)
