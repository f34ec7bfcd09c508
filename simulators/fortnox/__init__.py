"""A faithful in-process simulator of the Fortnox API v3 (aiohttp).

See ``simulator.py`` for the Python API and the module docstrings of ``auth``, ``gateway``,
``customers``, ``articles``, ``invoices``, ``orders``, ``payments``, ``control``, ``faults``,
``ratelimit`` and ``totals`` for the behaviour of each part.
"""

from simulators.fortnox._state import (
    ALL_SCOPES,
    Article,
    Client,
    Customer,
    Invoice,
    Order,
    Payment,
    RequestRecord,
    Tenant,
)
from simulators.fortnox.app import create_app
from simulators.fortnox.faults import Fault, FaultPlan
from simulators.fortnox.simulator import FortnoxSimulator

__all__ = [
    "ALL_SCOPES",
    "Article",
    "Client",
    "Customer",
    "Fault",
    "FaultPlan",
    "FortnoxSimulator",
    "Invoice",
    "Order",
    "Payment",
    "RequestRecord",
    "Tenant",
    "create_app",
]
