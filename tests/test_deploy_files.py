"""The deployment files agree with the code: Dockerfile and deploy/k8s (compose: tests/deploy).

Static checks only (no Docker, no cluster, no network): every file parses, every environment
variable is a setting, every pod runs unprivileged with probes on the endpoints the services
serve, the Ingress sends each public route to the service that owns it, kustomizations name
only files that exist, and nothing that looks like a real secret is committed.
"""

from __future__ import annotations

import functools
import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from pydantic import SecretStr

from fortbridge.registry import SERVICES
from libs.common.http import create_app
from libs.common.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
OVERLAYS = K8S / "overlays"
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
SECRET_EXAMPLE = K8S / "secret.example.yaml"

SECRET_NAME = "fortbridge-secrets"
CONFIG_NAME = "fortbridge-config"
SETTING_NAMES = frozenset(name.upper() for name in Settings.model_fields)
SECRET_SETTINGS = frozenset(
    name.upper() for name, field in Settings.model_fields.items() if field.annotation is SecretStr
)
COMPOSE_INFRA = {
    *("rabbitmq", "postgres", "jaeger", "fortnox-sim", "shopify-sim", "vies-sim"),
    *("otel-collector", "prometheus", "grafana"),
}
YAML_FILES = sorted([*K8S.rglob("*.yaml"), *K8S.rglob("*.yml"), COMPOSE])
DEPLOY_FILES = [DOCKERFILE, DOCKERIGNORE, *YAML_FILES]
# Shapes of real credentials: Shopify tokens, PEM keys, cloud and chat tokens.
REAL_SECRET = re.compile(
    r"shp(at|ss|ca|pa)_[0-9a-f]{8,}|-----BEGIN|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{20,}"
    r"|xox[abposr]-|sk_live_"
)
FERNET_KEY = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}=")


def k8s_name(service: str) -> str:
    return "fortbridge-" + service.replace("_", "-")


def load_docs(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def overlay_dirs() -> list[Path]:
    return sorted(path.parent for path in OVERLAYS.glob("*/kustomization.yaml"))


def load_kustomization(directory: Path) -> dict[str, Any]:
    (doc,) = load_docs(directory / "kustomization.yaml")
    return doc


@functools.cache
def base_resources() -> list[dict[str, Any]]:
    """Every object the base kustomization deploys."""
    return [doc for name in load_kustomization(BASE)["resources"] for doc in load_docs(BASE / name)]


def objects(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in base_resources() if doc["kind"] == kind}


def pod_specs() -> Iterator[tuple[str, dict[str, Any]]]:
    """The pod specs of every workload (the Deployments and the migration Job)."""
    for kind in ("Deployment", "Job"):
        for name, workload in objects(kind).items():
            yield f"{kind}/{name}", workload["spec"]["template"]["spec"]


def containers() -> Iterator[tuple[str, dict[str, Any]]]:
    for where, spec in pod_specs():
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            yield f"{where}/{container['name']}", container


def container_of(service: str) -> dict[str, Any]:
    deployment = objects("Deployment")[k8s_name(service)]
    containers: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"]
    (container,) = containers
    return container


@functools.cache
def compose() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(doc, dict)
    return doc


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, arguments = line.partition(" ")
            pairs.append((instruction.upper(), arguments.strip()))
    return pairs


def settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, str(value))
    return Settings()


# --- every file ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_yaml_file_parses_into_objects(path: Path) -> None:
    docs = load_docs(path)
    assert docs, f"{path} is empty"
    if path.parent.is_relative_to(K8S) and isinstance(docs[0], list):  # a JSON patch
        assert all({"op", "path"} <= set(op) for op in docs[0]), path
        return
    for doc in docs:
        assert isinstance(doc, dict)
        if path.parent.is_relative_to(K8S):
            assert doc.get("apiVersion") and doc.get("kind"), f"{path}: {doc}"


@pytest.mark.parametrize("path", DEPLOY_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_real_secret_is_committed(path: Path) -> None:
    text = path.read_text()
    assert not REAL_SECRET.search(text), f"{path} holds something shaped like a real secret"
    if path.is_relative_to(K8S):
        # The compose file's dev-only Fernet key must never leak into cluster manifests.
        assert not FERNET_KEY.search(text), f"{path} holds a Fernet key"


# --- kustomize ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "directory",
    [path.parent for path in sorted(K8S.rglob("kustomization.yaml"))],
    ids=lambda p: str(p.relative_to(K8S)),
)
def test_kustomization_lists_only_files_that_exist(directory: Path) -> None:
    kustomization = load_kustomization(directory)
    assert kustomization["kind"] in ("Kustomization", "Component")
    referenced = [
        *kustomization.get("resources", []),
        *kustomization.get("components", []),
        *(patch["path"] for patch in kustomization.get("patches", []) if "path" in patch),
    ]
    assert referenced
    for entry in referenced:
        target = (directory / entry).resolve()
        assert target.is_file() or (target / "kustomization.yaml").is_file(), entry
        assert target != SECRET_EXAMPLE.resolve(), "the secret example must not be deployed"


def test_base_deploys_every_manifest_in_it() -> None:
    listed = set(load_kustomization(BASE)["resources"])
    present = {path.name for path in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert present == listed


@pytest.mark.parametrize("overlay", overlay_dirs(), ids=lambda p: p.name)
def test_overlay_overrides_the_image_and_patches_real_objects(overlay: Path) -> None:
    kustomization = load_kustomization(overlay)
    assert kustomization["resources"] == ["../../base"]
    assert kustomization.get("namespace")
    images = {container["image"] for _, spec in pod_specs() for container in spec["containers"]}
    assert images == {"fortbridge:latest"}
    (image,) = kustomization["images"]
    assert image["name"] == "fortbridge" and (image.get("newTag") or image.get("digest"))
    known = {(doc["kind"], doc["metadata"]["name"]) for doc in base_resources()}
    for patch in kustomization.get("patches", []):
        if "target" in patch:  # a JSON patch: its target kind must exist
            assert patch["target"]["kind"] in {kind for kind, _ in known}, patch
            continue
        for doc in load_docs(overlay / patch["path"]):
            assert (doc["kind"], doc["metadata"]["name"]) in known, patch
            if doc["kind"] == "ConfigMap":
                assert set(doc["data"]) <= SETTING_NAMES - SECRET_SETTINGS
    for replicas in kustomization.get("replicas", []):
        assert replicas["name"] in objects("Deployment")


def test_prod_scales_the_workers_and_keeps_one_replayer() -> None:
    prod = load_kustomization(OVERLAYS / "prod")
    counts = {r["name"]: r["count"] for r in prod["replicas"]}
    assert counts[k8s_name("ingest")] > 1
    assert counts[k8s_name("replayer")] == 1
    # The queue workers: KEDA owns their replica count, at least two each.
    assert prod["components"] == ["../../components/keda"]
    scaled = load_docs(K8S / "components" / "keda" / "scaledobjects.yaml")
    floors = {d["spec"]["scaleTargetRef"]["name"]: d["spec"]["minReplicaCount"] for d in scaled}
    for service in ("mapper", "fortnox_writer", "timeline"):
        assert floors[k8s_name(service)] > 1, service
        assert k8s_name(service) not in counts, "the autoscaler owns the count"


def test_namespaces_differ_per_overlay() -> None:
    namespaces = [load_kustomization(overlay)["namespace"] for overlay in overlay_dirs()]
    assert len(set(namespaces)) == len(namespaces)


# --- workloads ----------------------------------------------------------------------------------


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_service_deployment_runs_it_with_probes_on_its_port(service: str) -> None:
    container = container_of(service)
    assert container["args"] == ["run", service]
    (port,) = container["ports"]
    assert port["containerPort"] == SERVICES[service].default_port
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["HTTP_PORT"] == str(port["containerPort"])
    served = {resource.canonical for resource in create_app(service).router.resources()}
    expected = {
        "startupProbe": "/healthz",
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
    }
    for probe, path in expected.items():
        check = container[probe]["httpGet"]
        assert check["path"] == path and path in served
        assert check["port"] in (port["name"], port["containerPort"]), probe
    assert container["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "5"]
    pod = objects("Deployment")[k8s_name(service)]["spec"]["template"]
    assert pod["spec"]["terminationGracePeriodSeconds"] == 45
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(port["containerPort"])
    assert annotations["prometheus.io/path"] in served


def test_every_service_has_exactly_one_deployment() -> None:
    assert set(objects("Deployment")) == {k8s_name(service) for service in SERVICES}


def test_migration_job_migrates_everything_with_only_the_database_secret() -> None:
    (job,) = objects("Job").values()
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["migrate", "all"]
    assert [item["name"] for item in container["env"]] == ["DATABASE_URL"]


def test_pods_run_unprivileged_on_a_read_only_root() -> None:
    user = dockerfile_user()
    for where, spec in pod_specs():
        context = spec["securityContext"]
        assert context["runAsNonRoot"] is True, where
        assert context["runAsUser"] == user, where
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}, where
        assert spec["automountServiceAccountToken"] is False, where
        volumes = {volume["name"]: volume for volume in spec["volumes"]}
        for container in spec["containers"]:
            name = f"{where}/{container['name']}"
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["capabilities"]["drop"] == ["ALL"], name
            mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
            assert "emptyDir" in volumes[mounts["/tmp"]], name
            for kind in ("requests", "limits"):
                assert set(container["resources"][kind]) >= {"cpu", "memory"}, name


def test_every_env_var_is_a_setting() -> None:
    for where, container in containers():
        for item in container.get("env", []):
            assert item["name"] in SETTING_NAMES, f"{where}: {item['name']}"
        for source in container.get("envFrom", []):
            assert source == {"configMapRef": {"name": CONFIG_NAME}}, where
    config = objects("ConfigMap")[CONFIG_NAME]["data"]
    assert set(config) <= SETTING_NAMES
    assert not set(config) & SECRET_SETTINGS, "secrets belong in the Secret"
    assert not {"AMQP_URL", "DATABASE_URL"} & set(config), "URLs carry credentials"


def test_secrets_come_from_the_one_secret_under_their_own_name() -> None:
    example = load_docs(SECRET_EXAMPLE)[0]
    assert example["kind"] == "Secret" and example["metadata"]["name"] == SECRET_NAME
    used = set()
    for where, container in containers():
        for item in container.get("env", []):
            if "valueFrom" in item:
                ref = item["valueFrom"]["secretKeyRef"]
                assert ref["name"] == SECRET_NAME, where
                assert ref["key"] == item["name"], where
                used.add(ref["key"])
    assert used >= SECRET_SETTINGS | {"AMQP_URL", "DATABASE_URL"}
    assert used == set(example["stringData"])
    for key, value in example["stringData"].items():
        assert "REPLACE" in value, f"{key} in the example must be a placeholder"


def test_config_values_parse_as_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    data = dict(objects("ConfigMap")[CONFIG_NAME]["data"])
    settings = settings_from(data, monkeypatch)
    assert settings.amqp_retry_delays == tuple(json.loads(data["AMQP_RETRY_DELAYS"]))
    assert "{shop}" in settings.shopify_admin_url and "{version}" in settings.shopify_admin_url


# --- Services, Ingress, disruption budgets --------------------------------------------------------


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


def test_services_and_budgets_select_one_deployment_each() -> None:
    deployments = objects("Deployment")
    assert set(objects("Service")) == set(deployments)
    for name, service in objects("Service").items():
        matched = [
            d
            for d in deployments.values()
            if selects(service["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])
        ]
        assert [d["metadata"]["name"] for d in matched] == [name]
        (container,) = matched[0]["spec"]["template"]["spec"]["containers"]
        port_names = {port["name"] for port in container["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in port_names, name
    for name, budget in objects("PodDisruptionBudget").items():
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert selects(budget["spec"]["selector"]["matchLabels"], labels), name


def ingress_backend(request_path: str) -> str | None:
    """The Service the Ingress sends a path to, by Kubernetes' matching rules."""
    best: tuple[tuple[int, bool], str] | None = None
    for ingress in objects("Ingress").values():
        for rule in ingress["spec"]["rules"]:
            for entry in rule["http"]["paths"]:
                path, kind = entry["path"], entry["pathType"]
                if kind == "Exact":
                    matched = request_path == path
                elif kind == "ImplementationSpecific":  # ingress-nginx use-regex
                    matched = re.fullmatch(path, request_path) is not None
                else:
                    assert kind == "Prefix", kind
                    wanted = [part for part in path.split("/") if part]
                    got = [part for part in request_path.split("/") if part]
                    matched = got[: len(wanted)] == wanted
                rank = (len(path.rstrip("/")), kind == "Exact")
                if matched and (best is None or rank > best[0]):
                    best = (rank, entry["backend"]["service"]["name"])
    return None if best is None else best[1]


def public_routes(service: str) -> list[str]:
    """The service's own routes (not the health endpoints), placeholders filled in."""
    app = web.Application()
    routes = SERVICES[service].routes
    if routes is not None:
        routes(app)
    return [re.sub(r"\{[^}]+\}", "1", r.canonical) for r in app.router.resources()]


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_ingress_sends_each_public_route_to_its_owner(service: str) -> None:
    for path in public_routes(service):
        assert ingress_backend(path) == k8s_name(service), path


def test_ingress_keeps_health_and_metrics_inside_and_names_real_ports() -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        assert ingress_backend(path) is None, path
    services = objects("Service")
    for ingress in objects("Ingress").values():
        for rule in ingress["spec"]["rules"]:
            for entry in rule["http"]["paths"]:
                backend = entry["backend"]["service"]
                ports = {port["name"] for port in services[backend["name"]]["spec"]["ports"]}
                assert backend["port"]["name"] in ports


# --- Dockerfile ---------------------------------------------------------------------------------


def dockerfile_user() -> int:
    users = [args for instruction, args in dockerfile_instructions() if instruction == "USER"]
    uid = int(users[-1].split(":")[0])
    assert uid > 0
    return uid


def test_dockerfile_builds_the_cli_image_as_non_root() -> None:
    instructions = dockerfile_instructions()
    stages = [args for instruction, args in instructions if instruction == "FROM"]
    assert len(stages) >= 2, "multi-stage: build, then a runtime without build tools"
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in [f"{i} {a}" for i, a in instructions]
    assert dockerfile_user() == 10001
    last = {instruction: args for instruction, args in instructions}
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert json.loads(last["ENTRYPOINT"]) == list(pyproject["project"]["scripts"])
    assert json.loads(last["CMD"]) == ["run", "all"]
    exposed = {int(port) for port in last["EXPOSE"].split()}
    assert exposed >= {service.default_port for service in SERVICES.values()}
    copied = {args.split()[0] for instruction, args in instructions if instruction == "COPY"}
    for package in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]:
        assert package.rstrip("*") in copied, f"the image lacks the {package} package"
    for instruction, args in instructions:
        if instruction in ("ENV", "ARG"):
            assert not re.search(r"SECRET|TOKEN|PASSWORD|KEYS?\b", args), args


def test_dockerignore_keeps_local_state_out_but_not_the_sources() -> None:
    ignored = {line.strip() for line in DOCKERIGNORE.read_text().splitlines()}
    assert {".venv", ".git"} <= ignored
    assert not {"pyproject.toml", "fortbridge", "libs", "services", "simulators"} & ignored
