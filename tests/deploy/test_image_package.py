"""The image builds right: the Dockerfile linted, and the project built as it builds it, then run.

hadolint checks the Dockerfile (pinned base, no root user, COPY/RUN practice) without an engine.

The Dockerfile copies pyproject.toml and the packages, runs `pip wheel --no-deps .` and installs
the wheel. A module, migration or YAML file missing from that wheel would only show when a pod
starts; here the same wheel is built from a copy of exactly what the Dockerfile copies
(offline: the venv's setuptools, no index), then `fortbridge migrate all` runs from the install
alone, against a database of its own.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from fortbridge.registry import SERVICES
from tests.deploy.tools import tool
from tests.support.infra import broker_and_database
from tests.test_deploy_files import DOCKERFILE, ROOT, dockerfile_instructions

pytestmark = pytest.mark.slow

RUNTIME_SUFFIXES = {".py", ".sql", ".yaml", ".yml", ".json"}
# The app's sources (built into services/ingest/webapp/static by the Dockerfile's app stage).
NOT_RUNTIME = {"__pycache__", "frontend", "node_modules"}
APP_PAGES = ROOT / "services" / "ingest" / "webapp" / "static"
# Offline: the venv's own setuptools builds, and nothing is fetched from an index.
PIP = [sys.executable, "-m", "pip", "--no-input", "--disable-pip-version-check"]


def copied_by_dockerfile() -> list[str]:
    """The build context paths the build stage copies before `pip wheel`."""
    return [
        args.split()[0]
        for instruction, args in dockerfile_instructions()
        if instruction == "COPY" and not args.startswith("--from")
    ]


def runtime_files(paths: list[str]) -> set[str]:
    files = set()
    for name in paths:
        top = ROOT / name
        if top.is_dir():
            for path in top.rglob("*"):
                if (
                    path.suffix in RUNTIME_SUFFIXES
                    and not set(path.relative_to(ROOT).parts) & NOT_RUNTIME
                ):
                    files.add(path.relative_to(ROOT).as_posix())
    return files


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    context = tmp_path_factory.mktemp("context")
    for name in copied_by_dockerfile():
        source = ROOT / name
        if source.is_dir():
            ignored = shutil.ignore_patterns("__pycache__", "*.egg-info", "node_modules")
            shutil.copytree(source, context / name, ignore=ignored, dirs_exist_ok=True)
        else:
            (context / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, context / name)
    # The Dockerfile's app stage builds the pages into the package (COPY --from=app); here the
    # pages scripts/setup.sh built are in the checkout, and came along with services/.
    assert (context / APP_PAGES.relative_to(ROOT) / "index.html").is_file(), (
        "the app's pages are not built: run scripts/setup.sh"
    )
    out = tmp_path_factory.mktemp("wheels")
    done = subprocess.run(
        [
            *PIP,
            "wheel",
            "--no-index",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(out),
            str(context),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (built,) = out.glob("fortbridge-*.whl")
    return built


@pytest.fixture
def scratch_database() -> Iterator[str]:
    name = f"fortbridge_image_{uuid.uuid4().hex[:12]}"
    with broker_and_database() as (_, postgres):

        async def run(statement: str) -> None:
            connection = await asyncpg.connect(postgres)
            try:
                await connection.execute(statement)
            finally:
                await connection.close()

        asyncio.run(run(f'CREATE DATABASE "{name}"'))
        try:
            yield postgres.rsplit("/", 1)[0] + "/" + name
        finally:
            asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def hadolint(dockerfile: Path) -> subprocess.CompletedProcess[str]:
    binary = tool("hadolint", Path(sys.executable).parent / "hadolint")
    return subprocess.run(
        [binary, "--no-color", "--failure-threshold", "info", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_dockerfile_passes_hadolint() -> None:
    done = hadolint(DOCKERFILE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_catches_an_image_that_runs_as_root(tmp_path: Path) -> None:
    lines = DOCKERFILE.read_text().splitlines()
    broken = [line for line in lines if not line.startswith("USER ")] + ["USER root"]
    (tmp_path / "Dockerfile").write_text("\n".join(broken) + "\n")
    done = hadolint(tmp_path / "Dockerfile")
    assert done.returncode != 0
    assert "DL3002" in done.stdout  # "Last USER should not be root"


def test_the_dockerfile_copies_the_project_definition_and_every_package() -> None:
    copied = copied_by_dockerfile()
    assert "pyproject.toml" in copied
    assert {"fortbridge", "libs", "services", "simulators"} <= set(copied)


def test_the_wheel_holds_every_module_migration_and_document(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        packaged = set(archive.namelist())
    expected = runtime_files(copied_by_dockerfile())
    assert any(name.endswith(".sql") for name in expected)
    assert any(name.endswith("admin_api.yaml") for name in expected)
    assert sorted(expected - packaged) == []
    assert any(name.endswith("entry_points.txt") for name in packaged)


def test_the_wheel_holds_the_apps_built_pages(wheel: Path) -> None:
    """ingest serves /app/ from the installed package: its page and every asset it names."""
    with zipfile.ZipFile(wheel) as archive:
        packaged = set(archive.namelist())
        page = archive.read("services/ingest/webapp/static/index.html").decode()
    assets = re.findall(r'(?:src|href)="/app/(assets/[^"]+)"', page)
    assert assets, page
    for asset in assets:
        assert f"services/ingest/webapp/static/{asset}" in packaged, asset
    assert not any("node_modules" in name or "/frontend/" in name for name in packaged)


def test_the_dockerfile_builds_the_app_and_puts_it_in_the_package() -> None:
    instructions = dockerfile_instructions()
    assert ("RUN", "npm ci --no-audit --no-fund") in instructions
    assert ("COPY", "--from=app /src/static ./services/ingest/webapp/static") in instructions
    copy_at = instructions.index(("COPY", "--from=app /src/static ./services/ingest/webapp/static"))
    wheel_at = next(i for i, (op, args) in enumerate(instructions) if "pip wheel" in args)
    assert copy_at < wheel_at


def test_the_installed_wheel_migrates_a_new_database_alone(
    wheel: Path, scratch_database: str, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    done = subprocess.run(
        [*PIP, "install", "--no-index", "--no-deps", "--target", str(site), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "AMQP"))
    }
    env |= {"PYTHONPATH": str(site), "PYTHONSAFEPATH": "1", "DATABASE_URL": scratch_database}
    # The checkout must not be importable: only the installed copy answers.
    where = subprocess.run(
        [sys.executable, "-c", "import fortbridge, services; print(fortbridge.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(site)
    migrated = subprocess.run(
        [sys.executable, "-m", "fortbridge", "migrate", "all"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    reported = {line.split(":")[0] for line in migrated.stdout.splitlines()}
    migrating = {name for name, service in SERVICES.items() if service.migrations is not None}
    assert migrating and reported >= {"shared", *migrating}
    for line in migrated.stdout.splitlines():
        assert "nothing new" not in line, f"a new database got no migrations: {line}"
