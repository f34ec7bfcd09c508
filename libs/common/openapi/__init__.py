"""The admin API's OpenAPI document (one file for every service's admin paths).

Each operation names the service that owns its path (``x-fortbridge-service``), which is also
where the Ingress routes it. Ingest serves the document at ``/admin/api/openapi.json``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

SPEC_PATH = Path(__file__).parent / "admin_api.yaml"


@functools.cache
def admin_api_spec() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text())
    return loaded


def operations() -> list[tuple[str, str, str]]:
    """(method, path, owning service) of every documented operation."""
    found: list[tuple[str, str, str]] = []
    for path, item in admin_api_spec()["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "delete", "patch"}:
                found.append((method.upper(), path, operation["x-fortbridge-service"]))
    return found
