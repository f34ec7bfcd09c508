"""Fixtures of the simulator tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from simulators.fortnox import FortnoxSimulator
from tests.simulators._fortnox_client import Api, make_sim


@pytest.fixture
def sim() -> FortnoxSimulator:
    return make_sim()


@pytest.fixture
async def api(sim: FortnoxSimulator) -> AsyncIterator[Api]:
    async with sim.serve() as base_url, aiohttp.ClientSession() as session:
        yield Api(session, base_url, sim)
