"""The five services by name (what ``fortbridge run`` can start)."""

from __future__ import annotations

from libs.common.service import ServiceDefinition
from services.fortnox_writer.service import definition as fortnox_writer
from services.ingest.service import definition as ingest
from services.mapper.service import definition as mapper
from services.replayer.service import definition as replayer
from services.timeline.service import definition as timeline

SERVICES: dict[str, ServiceDefinition] = {
    service.name: service for service in (ingest, mapper, fortnox_writer, timeline, replayer)
}


def select(name: str) -> list[ServiceDefinition]:
    if name == "all":
        return list(SERVICES.values())
    if name not in SERVICES:
        raise SystemExit(f"unknown service {name!r}; choose from: all, {', '.join(SERVICES)}")
    return [SERVICES[name]]
