"""The alert rules evaluated against the series each scrape setup really produces.

``FortbridgeServiceDown`` must fire whichever way Prometheus finds the services: the static job
of the compose stack (deploy/compose/prometheus.yml) or Kubernetes pod discovery through the
pods' prometheus.io annotations (deploy/prometheus/kubernetes-pods.yml). The labels of each
setup's ``up`` series are derived here from those files and from the Deployments' pod templates
(deploy/k8s/base), applying the scrape job's relabel rules as Prometheus does, then the rules are
run by ``promtool test rules`` (Debian's prometheus package; scripts/setup.sh installs it). Where
promtool is missing, the alert's selectors are matched against the same series instead.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.tools import K8S, ROOT

ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
COMPOSE_SCRAPE = ROOT / "deploy" / "compose" / "prometheus.yml"
KUBERNETES_SCRAPE = ROOT / "deploy" / "prometheus" / "kubernetes-pods.yml"
NAMESPACE = "fortbridge"


def rule(name: str) -> dict[str, Any]:
    doc = yaml.safe_load(ALERTS.read_text())
    [found] = [r for g in doc["groups"] for r in g["rules"] if r.get("alert") == name]
    return dict(found)


def sanitize(name: str) -> str:
    """Prometheus' label-name form of a Kubernetes label or annotation name."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def relabel(labels: dict[str, str], configs: list[dict[str, Any]]) -> dict[str, str] | None:
    """Prometheus' relabelling (the actions the scrape job uses); None when the target is
    dropped."""
    labels = dict(labels)
    for config in configs:
        action = config.get("action", "replace")
        regex = re.compile(f"^(?:{config.get('regex', '(.*)')})$")
        if action == "labelmap":
            for name, value in list(labels.items()):
                if match := regex.match(name):
                    labels[match.expand(config.get("replacement", r"\1"))] = value
            continue
        value = config.get("separator", ";").join(
            labels.get(name, "") for name in config.get("source_labels", [])
        )
        match = regex.match(value)
        if action == "keep":
            if not match:
                return None
        elif action == "drop":
            if match:
                return None
        elif action == "replace":
            if match:
                replacement = re.sub(r"\$(\d+)", r"\\\1", config.get("replacement", "$1"))
                result = match.expand(replacement)
                if result:
                    labels[config["target_label"]] = result
        else:
            raise AssertionError(f"relabel action {action} not modelled")
    return labels


def finished(labels: dict[str, str]) -> dict[str, str]:
    """A target's labels once scraped: instance defaults to the address, __ labels go."""
    labels.setdefault("instance", labels["__address__"])
    return {k: v for k, v in labels.items() if not k.startswith("__")}


def compose_series() -> list[dict[str, str]]:
    config = yaml.safe_load(COMPOSE_SCRAPE.read_text())
    [job] = [j for j in config["scrape_configs"] if j["job_name"] == "fortbridge"]
    series = []
    for static in job["static_configs"]:
        for target in static["targets"]:
            labels = {"job": job["job_name"], "__address__": target, **static.get("labels", {})}
            series.append(finished(labels))
    return series


def pod_templates() -> list[dict[str, Any]]:
    templates = []
    for path in sorted((K8S / "base").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "Deployment":
                templates.append(doc["spec"]["template"])
    return templates


def kubernetes_series(template: dict[str, Any], index: int) -> dict[str, str] | None:
    config = yaml.safe_load(KUBERNETES_SCRAPE.read_text())
    [job] = config["scrape_configs"]
    metadata = template["metadata"]
    component = metadata["labels"].get("app.kubernetes.io/component", "x")
    discovered = {
        "job": job["job_name"],
        "__address__": f"10.0.0.{index + 10}:8080",
        "__metrics_path__": "/metrics",
        "__meta_kubernetes_namespace": NAMESPACE,
        "__meta_kubernetes_pod_name": f"fortbridge-{component}-5d9c7b-{index}",
        **{
            f"__meta_kubernetes_pod_label_{sanitize(k)}": str(v)
            for k, v in metadata.get("labels", {}).items()
        },
        **{
            f"__meta_kubernetes_pod_annotation_{sanitize(k)}": str(v)
            for k, v in metadata.get("annotations", {}).items()
        },
    }
    # kustomize adds the base's common label to every pod template
    discovered["__meta_kubernetes_pod_label_app_kubernetes_io_part_of"] = "fortbridge"
    labelled = relabel(discovered, job["relabel_configs"])
    return None if labelled is None else finished(labelled)


def other_apps_pod() -> dict[str, str]:
    """A pod of something else in the cluster, scraped by the same job and down."""
    template = {
        "metadata": {
            "labels": {"app.kubernetes.io/name": "payments", "app.kubernetes.io/component": "api"},
            "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "9000"},
        }
    }
    found = kubernetes_series(template, 99)
    assert found is not None
    return found


def test_each_setup_gives_the_labels_the_rules_expect() -> None:
    compose = compose_series()
    assert len(compose) == 5 and {s["job"] for s in compose} == {"fortbridge"}
    templates = pod_templates()
    pods = [kubernetes_series(t, i) for i, t in enumerate(templates)]
    assert len(pods) == 5 and all(pods), "every Deployment's pods are scraped"
    for template, labels in zip(templates, pods, strict=True):
        assert labels is not None
        assert labels["job"] == "kubernetes-pods"  # no "fortbridge" in the job name here
        assert labels["app_kubernetes_io_name"] == "fortbridge"
        assert labels["namespace"] == NAMESPACE and labels["pod"].startswith("fortbridge-")
        port = template["metadata"]["annotations"]["prometheus.io/port"]
        assert labels["instance"] == f"10.0.0.{templates.index(template) + 10}:{port}"


def series_line(labels: dict[str, str], values: str) -> dict[str, str]:
    selector = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return {"series": f"up{{{selector}}}", "values": values}


def promtool_case(
    down: list[dict[str, str]], up: list[dict[str, str]], bystanders: list[dict[str, str]]
) -> dict[str, Any]:
    service_down = rule("FortbridgeServiceDown")
    expected = [
        {
            "exp_labels": {**labels, **service_down["labels"]},
            "exp_annotations": {
                "summary": service_down["annotations"]["summary"].replace(
                    "{{ $labels.instance }}", labels["instance"]
                ),
                "runbook_url": service_down["annotations"]["runbook_url"],
            },
        }
        for labels in down
    ]
    return {
        "interval": "1m",
        "input_series": [series_line(s, "0x10") for s in down + bystanders]
        + [series_line(s, "1x10") for s in up],
        "alert_rule_test": [
            {"eval_time": "4m", "alertname": "FortbridgeServiceDown", "exp_alerts": []},
            {"eval_time": "6m", "alertname": "FortbridgeServiceDown", "exp_alerts": expected},
        ],
    }


def selectors(expr: str) -> list[dict[str, tuple[str, str]]]:
    """The ``up{...} == 0`` selectors of an ``or`` of them (the fallback without promtool)."""
    found = []
    for body in re.findall(r"up\{([^}]*)\}\s*==\s*0", expr):
        matchers = re.findall(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"', body)
        found.append({name: (op, value) for name, op, value in matchers})
    assert found and len(found) == expr.count("up{"), expr
    return found


def matches(labels: dict[str, str], selector: dict[str, tuple[str, str]]) -> bool:
    for name, (op, value) in selector.items():
        actual = labels.get(name, "")
        regex_matches = re.fullmatch(value, actual) is not None
        if {"=": actual != value, "!=": actual == value, "=~": not regex_matches}.get(
            op,
            regex_matches,  # !~
        ):
            return False
    return True


@pytest.mark.slow
@pytest.mark.parametrize("setup", ["compose", "kubernetes"])
def test_service_down_fires_on_the_labels_of_each_setup(setup: str, tmp_path: Path) -> None:
    if setup == "compose":
        targets = compose_series()
        bystanders: list[dict[str, str]] = []
    else:
        targets = [s for i, t in enumerate(pod_templates()) if (s := kubernetes_series(t, i))]
        bystanders = [other_apps_pod()]
    down, up = targets[:2], targets[2:]
    promtool = shutil.which("promtool")
    if promtool is None:
        expr = rule("FortbridgeServiceDown")["expr"]
        fires = [
            s for s in down + up + bystanders if any(matches(s, sel) for sel in selectors(expr))
        ]
        assert [s for s in fires if s in down or s in bystanders] == down, "promtool missing"
        return
    tests = {
        "rule_files": [str(ALERTS)],
        "evaluation_interval": "1m",
        "tests": [promtool_case(down, up, bystanders)],
    }
    (tmp_path / "service_down_test.yml").write_text(yaml.safe_dump(tests, sort_keys=False))
    done = subprocess.run(
        [promtool, "test", "rules", str(tmp_path / "service_down_test.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
def test_every_alert_rule_is_valid_for_prometheus() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (scripts/setup.sh installs it where apt has it)")
    done = subprocess.run(
        [promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
