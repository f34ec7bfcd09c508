"""``create_app(sim)``: the aiohttp application serving one ``FortnoxSimulator``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from simulators.fortnox import (
    articles,
    auth,
    control,
    currencies,
    customers,
    invoices,
    orders,
    payments,
    registers,
    vouchers,
    warehouse,
)
from simulators.fortnox.gateway import gateway
from simulators.fortnox.keys import SIM_KEY

if TYPE_CHECKING:
    from simulators.fortnox.simulator import FortnoxSimulator

MAX_BODY = 16 * 1024 * 1024


def create_app(sim: FortnoxSimulator) -> web.Application:
    app = web.Application(middlewares=[gateway], client_max_size=MAX_BODY)
    app[SIM_KEY] = sim
    for module in (
        auth,
        customers,
        articles,
        warehouse,
        currencies,
        invoices,
        orders,
        payments,
        registers,
        vouchers,
        control,
    ):
        module.add_routes(app)
    return app
