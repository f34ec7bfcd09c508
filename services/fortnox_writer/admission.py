"""Admission: may a command from the queue run now, or is it set aside (and why)?

One query reads the shop's facts (``DeferredStore.facts``); then each rule in turn may set the
command aside with a reason, which becomes the ``deferred_commands`` row's reason:

- ``NotConnected``: the shop has no working Fortnox connection -> ``parked`` until it reconnects;
- ``TenantBusy``: the tenant already has commands waiting, or its next rate-limit slot is further
  than ``FORTNOX_DEFER_AFTER_SECONDS`` away -> ``rate_limit`` (no message waits in the broker);
- the local :class:`TenantGate` (checked by the intake last): this replica already runs
  ``PER_TENANT`` commands of the tenant -> ``rate_limit``.

A new reason (say usage billing's "waiting on billing") is one more rule returning
``SetAside("billing", ...)`` in ``rules_for``, plus its reason among the held ones the scheduler
skips until something releases them (see docs/architecture.md).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Protocol

from libs.common.messages import FortnoxCommand
from libs.common.settings import Settings
from services.fortnox_writer.deferred import PARKED, RATE_LIMIT, DeferredStore, ShopFacts

# Commands of one tenant a replica runs at once; more would only wait for the same slots.
PER_TENANT = 2


@dataclass(frozen=True)
class SetAside:
    reason: str  # the deferred row's reason
    explanation: str | None = None  # for the result the timeline shows, if any


class AdmissionRule(Protocol):
    async def check(self, command: FortnoxCommand, facts: ShopFacts) -> SetAside | None: ...


class NotConnected:
    async def check(self, command: FortnoxCommand, facts: ShopFacts) -> SetAside | None:
        if facts.tenant_id is None or not facts.connected:
            return SetAside(PARKED, facts.reason)
        return None


class TenantBusy:
    def __init__(self, defer_after_seconds: float) -> None:
        self._defer_after = defer_after_seconds

    async def check(self, command: FortnoxCommand, facts: ShopFacts) -> SetAside | None:
        if facts.backlog or facts.next_slot_in > self._defer_after:
            return SetAside(RATE_LIMIT)
        return None


def rules_for(settings: Settings) -> list[AdmissionRule]:
    return [NotConnected(), TenantBusy(settings.fortnox_defer_after_seconds)]


class Admission:
    def __init__(self, store: DeferredStore, rules: list[AdmissionRule]) -> None:
        self._store = store
        self._rules = rules

    async def decide(self, command: FortnoxCommand) -> tuple[ShopFacts, SetAside | None]:
        facts = await self._store.facts(command.shop)
        for rule in self._rules:
            aside = await rule.check(command, facts)
            if aside is not None:
                return facts, aside
        return facts, None


class TenantGate:
    """How many commands of each tenant this replica runs right now."""

    def __init__(self, per_tenant: int = PER_TENANT) -> None:
        self._per_tenant = per_tenant
        self._running: Counter[str] = Counter()

    def try_enter(self, tenant_id: str) -> bool:
        if self._running[tenant_id] >= self._per_tenant:
            return False
        self._running[tenant_id] += 1
        return True

    def leave(self, tenant_id: str) -> None:
        self._running[tenant_id] -= 1
        if self._running[tenant_id] <= 0:
            del self._running[tenant_id]

    def full(self, tenant_id: str) -> bool:
        return self._running[tenant_id] >= self._per_tenant

    @property
    def total(self) -> int:
        return sum(self._running.values())
