"""Every overlay renders with `kubectl kustomize`, validates against the Kubernetes schemas
(kubernetes-validate, offline; KEDA's CRDs against local schemas), passes checkov with no failed
check, and holds together: autoscalers, network policies, budgets and queues agree."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from fortbridge.registry import SERVICES
from libs.common.messaging import MAPPER_EVENTS, TIMELINE_RESULTS, WRITER_COMMANDS, Topology
from libs.common.settings import Settings
from tests.deploy.tools import OVERLAYS, ROOT, checkov, missing, rendered, rendered_text

pytestmark = pytest.mark.slow

# Oldest and newest Kubernetes the manifests must be valid for.
K8S_VERSIONS = ("1.29", "1.37")
QUEUE_OF = {
    "fortbridge-mapper": MAPPER_EVENTS,
    "fortbridge-fortnox-writer": WRITER_COMMANDS,
    "fortbridge-timeline": TIMELINE_RESULTS,
}
AUTOSCALED = set(QUEUE_OF)

_NAME = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
# KEDA 2.x CRDs (keda.sh/v1alpha1), the fields these manifests use: kubernetes-validate only
# knows the built-in kinds.
CRD_SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
    ("keda.sh/v1alpha1", "ScaledObject"): {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "metadata": _NAME,
            "spec": {
                "type": "object",
                "required": ["scaleTargetRef", "triggers"],
                "additionalProperties": False,
                "properties": {
                    "scaleTargetRef": {
                        **_NAME,
                        "additionalProperties": False,
                        "properties": {
                            "name": {"type": "string"},
                            "apiVersion": {"type": "string"},
                            "kind": {"type": "string"},
                            "envSourceContainerName": {"type": "string"},
                        },
                    },
                    **{
                        key: {"type": "integer", "minimum": 0}
                        for key in (
                            "pollingInterval",
                            "cooldownPeriod",
                            "initialCooldownPeriod",
                            "idleReplicaCount",
                            "minReplicaCount",
                            "maxReplicaCount",
                        )
                    },
                    "advanced": {"type": "object"},
                    "fallback": {
                        "type": "object",
                        "required": ["failureThreshold", "replicas"],
                    },
                    "triggers": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["type", "metadata"],
                            "additionalProperties": False,
                            "properties": {
                                "type": {"type": "string"},
                                "name": {"type": "string"},
                                "metricType": {"enum": ["AverageValue", "Value", "Utilization"]},
                                "useCachedMetrics": {"type": "boolean"},
                                "metadata": {
                                    "type": "object",
                                    "additionalProperties": {"type": "string"},
                                },
                                "authenticationRef": {
                                    **_NAME,
                                    "properties": {
                                        "name": {"type": "string"},
                                        "kind": {
                                            "enum": [
                                                "TriggerAuthentication",
                                                "ClusterTriggerAuthentication",
                                            ]
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
    ("keda.sh/v1alpha1", "TriggerAuthentication"): {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "metadata": _NAME,
            "spec": {
                "type": "object",
                "properties": {
                    "secretTargetRef": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["parameter", "name", "key"],
                            "additionalProperties": False,
                            "properties": {
                                k: {"type": "string"} for k in ("parameter", "name", "key")
                            },
                        },
                    }
                },
            },
        },
    },
}

overlays = pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda path: path.name)


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A label selector (matchLabels and matchExpressions with In) against pod labels."""
    if not all(labels.get(key) == value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In", expression
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def pod_labels(docs: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """The pod template labels of every workload, by workload name."""
    return {
        doc["metadata"]["name"]: doc["spec"]["template"]["metadata"]["labels"]
        for doc in docs
        if doc["kind"] in ("Deployment", "Job")
    }


def test_there_are_overlays_for_dev_and_prod() -> None:
    assert {path.name for path in OVERLAYS} >= {"dev", "prod"}


@overlays
def test_overlay_renders(overlay: Path) -> None:
    docs = rendered(overlay)
    kinds = {doc["kind"] for doc in docs}
    expected = {"Deployment", "Service", "Ingress", "PodDisruptionBudget", "NetworkPolicy", "Job"}
    assert kinds >= expected | {"ConfigMap", "ServiceAccount"}
    namespaces = {doc["metadata"].get("namespace") for doc in docs}
    assert len(namespaces) == 1 and None not in namespaces


@overlays
@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_overlay_validates_against_the_kubernetes_schemas(overlay: Path, version: str) -> None:
    try:
        import jsonschema
        from kubernetes_validate import utils as kv
    except ImportError:
        missing("kubernetes-validate")
    problems = []
    for doc in rendered(overlay):
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        crd = CRD_SCHEMAS.get((doc["apiVersion"], doc["kind"]))
        try:
            if crd is not None:
                jsonschema.validate(doc, crd)
            else:
                kv.validate(doc, version, strict=True)
        except (kv.ValidationError, jsonschema.ValidationError) as exc:
            problems.append(f"{where}: {exc}")
        except kv.SchemaNotFoundError:
            problems.append(f"{where}: no schema for {doc['apiVersion']} (add one to CRD_SCHEMAS)")
    assert not problems, "\n".join(problems)


def test_checkov_finds_nothing(tmp_path: Path) -> None:
    """Every check passes on every rendered overlay (skips only in deploy/checkov.yaml)."""
    for overlay in OVERLAYS:
        (tmp_path / f"{overlay.name}.yaml").write_text(rendered_text(overlay))
    env = {
        **os.environ,
        "BC_SKIP_MAPPING": "TRUE",
        "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true",
        "LOG_LEVEL": "ERROR",
    }
    done = subprocess.run(
        [
            *(checkov(), "-d", str(tmp_path), "--framework", "kubernetes"),
            *("--config-file", str(ROOT / "deploy" / "checkov.yaml")),
            *("--skip-download", "--compact", "-o", "json"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    assert done.stdout.strip(), done.stderr[-2000:]
    report = json.loads(done.stdout)
    results = report["results"] if isinstance(report, dict) else report[0]["results"]
    failed = [
        f"{c['check_id']} {c['check_name']} ({c.get('severity')}): {c['resource']}"
        for c in results["failed_checks"]
    ]
    assert not failed, "\n".join(failed)
    passed = {check["check_id"] for check in results["passed_checks"]}
    assert {"CKV_K8S_22", "CKV_K8S_20", "CKV2_K8S_6"} <= passed  # read-only fs, no escalation
    assert done.returncode == 0


@overlays
def test_one_autoscaler_per_queue_worker_and_replicas_left_to_it(overlay: Path) -> None:
    docs = rendered(overlay)
    scaled = [d["spec"]["scaleTargetRef"]["name"] for d in docs if d["kind"] == "ScaledObject"]
    hpas = [
        d["spec"]["scaleTargetRef"]["name"] for d in docs if d["kind"] == "HorizontalPodAutoscaler"
    ]
    targets = scaled + hpas
    assert sorted(targets) == sorted(AUTOSCALED), "each worker exactly one autoscaler"
    assert not (scaled and hpas), "KEDA and a plain HPA must not both run"
    for name, deployment in by_kind(docs, "Deployment").items():
        assert ("replicas" in deployment["spec"]) == (name not in AUTOSCALED), name


def test_keda_scales_each_worker_on_its_own_queue() -> None:
    (prod,) = [overlay for overlay in OVERLAYS if overlay.name == "prod"]
    docs = rendered(prod)
    namespace = by_kind(docs, "ConfigMap")["fortbridge-config"]["data"]["AMQP_NAMESPACE"]
    topology = Topology(namespace=namespace)
    auth = by_kind(docs, "TriggerAuthentication")
    secret_keys = {
        ref["name"]: ref["key"] for a in auth.values() for ref in a["spec"]["secretTargetRef"]
    }
    assert secret_keys == {"fortbridge-secrets": "AMQP_URL"}
    for scaled in by_kind(docs, "ScaledObject").values():
        target = scaled["spec"]["scaleTargetRef"]["name"]
        assert scaled["spec"]["minReplicaCount"] >= 2, target
        triggers = {trigger["type"]: trigger for trigger in scaled["spec"]["triggers"]}
        assert set(triggers) == {"rabbitmq", "cpu"}
        rabbit = triggers["rabbitmq"]
        assert rabbit["metadata"]["queueName"] == topology.queue_name(QUEUE_OF[target])
        assert rabbit["metadata"]["mode"] == "QueueLength"
        assert int(rabbit["metadata"]["value"]) > 0
        assert rabbit["authenticationRef"]["name"] in auth


@overlays
def test_every_workload_has_a_budget_and_a_deny_by_default_policy(overlay: Path) -> None:
    docs = rendered(overlay)
    labels = pod_labels(docs)
    deployments = by_kind(docs, "Deployment")
    budgets = by_kind(docs, "PodDisruptionBudget").values()
    for name in deployments:
        assert [b for b in budgets if selects(b["spec"]["selector"], labels[name])], name
    policies = by_kind(docs, "NetworkPolicy")
    deny = [p for p in policies.values() if not p["spec"].get("ingress")]
    for name, pod in labels.items():
        assert any(selects(p["spec"]["podSelector"], pod) for p in deny), name


@overlays
def test_only_the_ingress_backends_take_traffic_from_the_ingress_controller(
    overlay: Path,
) -> None:
    docs = rendered(overlay)
    labels = pod_labels(docs)
    services = by_kind(docs, "Service")
    backends = {
        path["backend"]["service"]["name"]
        for ingress in by_kind(docs, "Ingress").values()
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    edge_pods = {
        name
        for name, pod in labels.items()
        for service in backends
        if selects({"matchLabels": services[service]["spec"]["selector"]}, pod)
    }
    assert edge_pods >= {"fortbridge-ingest"}
    reached_from_controller: set[str] = set()
    for policy in by_kind(docs, "NetworkPolicy").values():
        for rule in policy["spec"].get("ingress", []):
            sources = [s["namespaceSelector"]["matchLabels"] for s in rule["from"]]
            assert all(s.get("kubernetes.io/metadata.name") for s in sources), "namespaces only"
            assert [port["port"] for port in rule["ports"]] == ["http"], "the HTTP port only"
            if any("ingress" in s["kubernetes.io/metadata.name"] for s in sources):
                reached_from_controller |= {
                    name
                    for name, pod in labels.items()
                    if selects(policy["spec"]["podSelector"], pod)
                }
    assert reached_from_controller == edge_pods


def test_the_migration_job_runs_before_the_services() -> None:
    (prod,) = [overlay for overlay in OVERLAYS if overlay.name == "prod"]
    (job,) = by_kind(rendered(prod), "Job").values()
    assert job["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "PreSync"
    script = (ROOT / "deploy" / "k8s" / "deploy.sh").read_text()
    job_step, wait_step, rest_step = (
        script.index("component in (config,migrate)"),
        script.index("wait --for=condition=complete"),
        script.index("component notin (config,migrate)"),
    )
    assert job_step < wait_step < rest_step
    assert set(SERVICES) == {"ingest", "mapper", "fortnox_writer", "timeline", "replayer"}


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_each_deployment_gets_the_secrets_its_code_reads(service: str) -> None:
    """A secret setting read under services/<name>/ must reach that Deployment's pods."""
    secrets = {
        name for name, field in Settings.model_fields.items() if field.annotation is SecretStr
    }
    code = "\n".join(
        path.read_text() for path in (ROOT / "services" / service).rglob("*.py")
    ) + "\n".join(p.read_text() for p in (ROOT / "libs" / "common" / "access").glob("*.py"))
    read = {name.upper() for name in secrets if re.search(rf"settings\.{name}\b", code)}
    (prod,) = [overlay for overlay in OVERLAYS if overlay.name == "prod"]
    deployment = by_kind(rendered(prod), "Deployment")["fortbridge-" + service.replace("_", "-")]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    given = {item["name"] for item in container["env"] if "valueFrom" in item}
    assert read <= given, f"{service} reads {sorted(read - given)} but is not given them"
