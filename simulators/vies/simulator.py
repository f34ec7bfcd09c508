"""The VIES simulator's state: which numbers are valid, which member states are down, delays.

The real service (https://ec.europa.eu/taxation_customs/vies/rest-api/) answers
``POST /check-vat-number`` with ``{"countryCode", "vatNumber"}`` by the registry of the member
state; when that registry does not answer it returns an error envelope
``{"actionSucceed": false, "errorWrappers": [{"error": "MS_UNAVAILABLE", "message": ...}]}``.
Here a number is valid when it was marked so (``mark``); every other number is "not valid".
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import web

# VIES's codes (Greece is EL in VIES, not GR).
MEMBER_STATES = frozenset(
    {
        *("AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "EL", "ES", "FI", "FR", "HR", "HU"),
        *("IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "XI"),
    }
)
ERROR_MESSAGES = {
    "INVALID_INPUT": "The provided CountryCode is invalid or the VAT number is empty",
    "SERVICE_UNAVAILABLE": "An error was encountered either at the network level or the Web "
    "application level, try again later",
    "MS_UNAVAILABLE": "The application at the Member State is not replying or not available. "
    "Please refer to the Technical Information page to check the status of the requested "
    "Member State, try again later",
    "TIMEOUT": "The application did not receive a reply within the allocated time, try again later",
    "MS_MAX_CONCURRENT_REQ": "Your Request for VAT validation has not been processed; the maximum "
    "number of concurrent requests for this Member State has been reached",
}


@dataclass(frozen=True)
class Trader:
    name: str = "---"
    address: str = "---"


@dataclass
class ViesSimulator:
    valid: dict[str, Trader] = field(default_factory=dict)  # "DE123456789" -> trader
    unavailable: set[str] = field(default_factory=set)  # member states down ("*": all)
    delay: float = 0.0  # seconds before every answer (a slow service)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (country, number) asked

    def mark(
        self, number: str, valid: bool = True, *, name: str = "---", address: str = "---"
    ) -> None:
        """A full number with its country prefix, e.g. ``DE123456789``."""
        key = normal(number)
        if valid:
            self.valid[key] = Trader(name, address)
        else:
            self.valid.pop(key, None)

    def set_unavailable(self, country: str = "*", down: bool = True) -> None:
        (self.unavailable.add if down else self.unavailable.discard)(country.upper())

    def check(self, country: str, number: str) -> tuple[int, dict[str, object]]:
        """The HTTP status and body VIES answers for one check."""
        country = country.upper()
        number = normal(number)
        self.requests.append((country, number))
        if country not in MEMBER_STATES or not number:
            return 400, error("INVALID_INPUT")
        if "*" in self.unavailable:
            return 500, error("SERVICE_UNAVAILABLE")
        if country in self.unavailable:
            return 200, error("MS_UNAVAILABLE")
        if number.startswith(country):
            number = number[len(country) :]
        trader = self.valid.get(f"{country}{number}")
        now = datetime.now(UTC)
        return 200, {
            "countryCode": country,
            "vatNumber": number,
            "requestDate": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "valid": trader is not None,
            "requestIdentifier": f"WAPI{uuid.uuid4().hex[:12].upper()}",
            "name": trader.name if trader else "---",
            "address": trader.address if trader else "---",
            "traderName": "---",
            "traderStreet": "---",
            "traderPostalCode": "---",
            "traderCity": "---",
            "traderCompanyType": "---",
            "traderNameMatch": "NOT_PROCESSED",
            "traderStreetMatch": "NOT_PROCESSED",
            "traderPostalCodeMatch": "NOT_PROCESSED",
            "traderCityMatch": "NOT_PROCESSED",
            "traderCompanyTypeMatch": "NOT_PROCESSED",
        }

    async def wait(self) -> None:
        if self.delay > 0:
            await asyncio.sleep(self.delay)

    def reset(self) -> None:
        self.valid.clear()
        self.unavailable.clear()
        self.delay = 0.0
        self.requests.clear()

    @contextlib.asynccontextmanager
    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
        """Serve over HTTP on ``host:port`` (0: a free port); yields the base URL."""
        from simulators.vies.app import create_app

        runner = web.AppRunner(create_app(self), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
            yield f"http://{host}:{runner.addresses[0][1]}"
        finally:
            await runner.cleanup()


def normal(number: str) -> str:
    return "".join(ch for ch in str(number) if ch.isalnum()).upper()


def error(code: str) -> dict[str, object]:
    return {
        "actionSucceed": False,
        "errorWrappers": [{"error": code, "message": ERROR_MESSAGES[code]}],
    }
