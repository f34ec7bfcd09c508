"""'Is anything still in flight?': the shape of the answer, and how a service's part is judged.

Each service reports its own part (:class:`Part`): read-only counts of its own tables, made by a
module in its own package (``services/<name>/in_flight.py``), next to its migrations. The
broker's part (each service's queues) comes from :mod:`libs.common.messaging.inspect`.
:func:`compose` puts them together: ``quiet`` is true when nothing is moving anywhere, that is no
message ready or unacknowledged in any of the namespace's queues (work, wait and dead-letter
queues) and no part reports work in flight. What waits for a person (open failed jobs, commands
parked until a merchant reconnects Fortnox) is reported under ``waiting_for_people`` and does not
make it false: it would never become quiet by itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from libs.common.messaging.inspect import BrokerReport


@dataclass
class Part:
    """One service's own figures, what of them is still moving, and what waits for a person."""

    figures: dict[str, Any] = field(default_factory=dict)
    busy: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)


def compose(
    parts: Mapping[str, Part],
    queues_of: Mapping[str, Sequence[str]],
    broker: BrokerReport,
) -> dict[str, Any]:
    """The report: per service its queues and figures, then ``quiet`` and the reasons."""
    services: dict[str, Any] = {}
    busy: list[str] = []
    waiting: list[str] = []
    for name in sorted(set(parts) | set(queues_of), key=lambda n: list(queues_of).index(n)):
        part = parts.get(name, Part())
        queues: dict[str, Any] = {}
        service_busy = [f"{name}: {reason}" for reason in part.busy]
        for queue in queues_of.get(name, ()):
            stats = broker.queues.get(queue)
            if stats is None or not stats.exists:
                queues[queue] = {"exists": False}
                continue
            queues[queue] = {
                "ready": stats.ready,
                "unacked": stats.unacked,
                "consumers": stats.consumers,
            }
            if stats.ready:
                service_busy.append(f"{name}: {stats.ready} messages ready in {queue}")
            if stats.unacked:
                service_busy.append(f"{name}: {stats.unacked} messages being handled from {queue}")
        services[name] = {
            "quiet": not service_busy,
            "queues": queues,
            **part.figures,
        }
        busy += service_busy
        waiting += [f"{name}: {reason}" for reason in part.waiting]
    return {
        "quiet": not busy,
        "checked_at": datetime.now(UTC).isoformat(),
        "busy": busy,
        "waiting_for_people": waiting,
        "unmeasured": list(broker.unmeasured),
        "services": services,
    }
