"""The lock agrees with pyproject.toml: every dependency it declares is locked, at a version it
allows, and the requirement files the installs use are exactly what the lock exports.

A dependency added to (or changed in) pyproject.toml without ``bash scripts/lock.sh`` fails here
and names the command; so does a hand-edited requirements file.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
RELOCK = "run `bash scripts/lock.sh` and commit uv.lock and requirements/"
# requirements file -> the `uv export` options that make it (scripts/lock.sh)
EXPORTS = {
    "runtime.txt": ["--no-default-groups"],
    "dev.txt": ["--no-default-groups", "--extra", "dev", "--extra", "containers"],
    "build.txt": ["--no-default-groups", "--only-group", "build"],
}
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^ ;\\]+)")


def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def lock() -> dict[str, Any]:
    return tomllib.loads((ROOT / "uv.lock").read_text())


def declared() -> dict[str, list[Requirement]]:
    """Where each requirement is declared -> the requirements (as pyproject.toml says)."""
    project = pyproject()
    found = {"dependencies": [Requirement(r) for r in project["project"]["dependencies"]]}
    for extra, requirements in project["project"].get("optional-dependencies", {}).items():
        found[f"extra {extra}"] = [Requirement(r) for r in requirements]
    for group, requirements in project.get("dependency-groups", {}).items():
        found[f"group {group}"] = [Requirement(r) for r in requirements]
    return found


def locked_root() -> dict[str, Any]:
    [root] = [p for p in lock()["package"] if p["name"] == "fortbridge"]
    return root


def locked_specifiers() -> dict[str, dict[str, str]]:
    """The same, as uv.lock recorded it when it was made (name -> specifier)."""
    metadata = locked_root()["metadata"]
    found: dict[str, dict[str, str]] = {"dependencies": {}}
    for entry in metadata["requires-dist"]:
        where = "dependencies"
        if extra := re.search(r"extra == '([^']+)'", entry.get("marker", "")):
            where = f"extra {extra.group(1)}"
        found.setdefault(where, {})[canonicalize_name(entry["name"])] = entry.get("specifier", "")
    for group, entries in metadata.get("requires-dev", {}).items():
        found[f"group {group}"] = {
            canonicalize_name(e["name"]): e.get("specifier", "") for e in entries
        }
    return found


def locked_versions() -> dict[str, Version]:
    return {canonicalize_name(p["name"]): Version(p["version"]) for p in lock()["package"]}


def test_every_dependency_of_pyproject_is_locked_as_declared() -> None:
    recorded = locked_specifiers()
    for where, requirements in declared().items():
        names = {canonicalize_name(r.name): str(r.specifier) for r in requirements}
        in_lock = recorded.get(where, {})
        missing = sorted(set(names) - set(in_lock))
        assert not missing, f"{where}: {missing} not in uv.lock: {RELOCK}"
        changed = {
            name: (spec, in_lock[name])
            for name, spec in names.items()
            if set(spec.split(",")) != set(in_lock[name].split(","))
        }
        assert not changed, f"{where}: pyproject and uv.lock disagree {changed}: {RELOCK}"
        gone = sorted(set(in_lock) - set(names))
        assert not gone, f"{where}: uv.lock still has {gone}, removed from pyproject: {RELOCK}"
    assert set(recorded) <= set(declared()), f"uv.lock has {set(recorded) - set(declared())}"


def test_every_locked_version_is_one_pyproject_allows() -> None:
    versions = locked_versions()
    for where, requirements in declared().items():
        for requirement in requirements:
            version = versions.get(canonicalize_name(requirement.name))
            assert version is not None, f"{where}: {requirement.name} is not locked: {RELOCK}"
            assert requirement.specifier.contains(version, prereleases=True), (
                f"{where}: {requirement.name} {version} does not satisfy {requirement}: {RELOCK}"
            )


def test_the_wheel_builds_with_the_locked_setuptools() -> None:
    pins = pinned("build.txt")
    for text in pyproject()["build-system"]["requires"]:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"build-system requires {name}, requirements/build.txt lacks it"
        assert requirement.specifier.contains(pins[name])


def pinned(name: str) -> dict[str, Version]:
    text = (ROOT / "requirements" / name).read_text()
    pins = {}
    for line in text.splitlines():
        if match := PIN.match(line):
            pins[canonicalize_name(match.group(1))] = Version(match.group(2))
    return pins


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_each_requirements_file_pins_locked_versions_with_hashes(name: str) -> None:
    text = (ROOT / "requirements" / name).read_text()
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text.strip())
    assert blocks, name
    versions = locked_versions()
    for block in blocks:
        match = PIN.match(block)
        assert match, f"{name}: not a pinned requirement: {block.splitlines()[0]}"
        assert "--hash=sha256:" in block, f"{name}: {match.group(1)} has no hash"
        assert versions[canonicalize_name(match.group(1))] == Version(match.group(2))


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_each_requirements_file_is_what_the_lock_exports(name: str, tmp_path: Path) -> None:
    uv = Path(sys.executable).parent / "uv"
    binary = str(uv) if uv.is_file() else shutil.which("uv")
    assert binary, "uv is missing: it is part of the dev lock (scripts/setup.sh installs it)"
    out = tmp_path / name
    done = subprocess.run(
        [
            binary,
            "export",
            "--frozen",
            "--offline",
            "--format",
            "requirements-txt",
            "--no-emit-project",
            "--no-header",
            "--output-file",
            str(out),
            *EXPORTS[name],
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert out.read_text() == (ROOT / "requirements" / name).read_text(), (
        f"requirements/{name} is not what uv.lock exports: {RELOCK}"
    )


def test_the_image_gets_no_dev_tool_and_developers_get_everything_it_runs() -> None:
    runtime, dev = pinned("runtime.txt"), pinned("dev.txt")
    for requirement in declared()["extra dev"]:
        name = canonicalize_name(requirement.name)
        if name not in {canonicalize_name(r.name) for r in declared()["dependencies"]}:
            assert name not in runtime, f"{name} (dev only) is in the runtime lock"
    assert runtime.items() <= dev.items()
