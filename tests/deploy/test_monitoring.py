"""deploy/monitoring: the Grafana dashboard, the PrometheusRule and the ServiceMonitor name only
what a real `retention run` exports on /metrics, and the manifests are valid.

`retention run` runs once for the module against the emulator, with a policy that deletes, a
hold that protects nothing and a hold that does, so that most families carry samples and their
labels can be checked too."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import kubernetes_validate
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from retention.emulator import Emulator, EmulatorConfig
from retention.service.metrics import Metrics
from tests.builders import hold, policy, seed, ttl_rule, write_policies
from tests.deploy.kube import DEPLOY, KUBERNETES_VERSION, kubectl, load_all, render
from tests.deploy.prometheus_operator import PROMETHEUS_RULE, SERVICE_MONITOR
from tests.service.test_run import served, wait_for

MONITORING = DEPLOY / "monitoring"
METRIC = re.compile(r"\bretention_[a-z_]+\b")
TARGET_LABELS = {"instance", "job", "namespace", "pod", "service", "container", "endpoint", "le"}
"""Labels Prometheus adds to every scraped series (and `le`, of histogram buckets)."""


@pytest.fixture(scope="module")
def exposition(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The /metrics text of a real `retention run`, after its first reconcile."""
    home = tmp_path_factory.mktemp("run")
    now = time.time()
    with Emulator.start(EmulatorConfig(limits="off", indexes=(("idx", 2),))) as emu:
        seed(emu, "idx", {"t-a": {f"r{i}": {"created_at": now - i * 86_400} for i in range(40)}})
        policies = write_policies(
            home / "policies",
            [
                policy("expire", "idx", ["t-*"], [ttl_rule("old", "7d")], schedule="30s"),
                hold("kept", "idx", ["t-*"], [{"legal_hold": True}]),
                hold("mistyped", "idx", ["tenant-*"], [{"legal_hold": True}]),
            ],
        )
        with served(emu, policies, home) as run:
            wait_for(lambda: (run.state / "expire.report.json").exists(), timeout=60)
            text = httpx.get(run.url + "/metrics", timeout=5).text
    yield text


@pytest.fixture(scope="module")
def scraped(exposition: str) -> dict[str, set[str]]:
    """metric family (and sample) name -> label names, from the exposition."""
    text = exposition
    labels: dict[str, set[str]] = {}
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}
    for family in text_string_to_metric_families(text):
        labels.setdefault(family.name, set())
        for suffix in suffixes.get(family.type, ()):  # declared, even before a first sample
            labels.setdefault(family.name + suffix, set())
        for sample in family.samples:
            labels.setdefault(sample.name, set()).update(sample.labels)
            labels[family.name].update(sample.labels)
    return labels


def test_the_series_alerts_count_on_exist_before_the_first_failure(exposition: str) -> None:
    """A counter first seen at 1 has no increase() in Prometheus: the failure and trend series
    an alert reads start at 0 as soon as the policy is scheduled."""
    for sample in (
        'retention_reconcile_runs_total{outcome="error",policy="expire"} 0.0',
        'retention_reconcile_runs_total{outcome="failed",policy="expire"} 0.0',
        'retention_trend_blocked_total{policy="expire"} 0.0',
    ):
        assert sample in exposition.splitlines(), sample


def registry_names() -> set[str]:
    names: set[str] = set()
    for family in Metrics().registry.collect():
        names.add(family.name)
        if family.type == "counter":
            names.add(family.name + "_total")
        elif family.type == "histogram":
            names.update(family.name + s for s in ("_bucket", "_count", "_sum"))
    return names


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((MONITORING / "prometheus-rule.yaml").read_text())
    assert document["kind"] == "PrometheusRule"
    return [rule for group in document["spec"]["groups"] for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((MONITORING / "retention-dashboard.json").read_text())
    return document


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) for every query of the dashboard, its variables' included."""
    queries = [
        (panel["title"], target["expr"])
        for panel in dashboard()["panels"]
        for target in panel.get("targets", [])
    ]
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] == "query":
            queries.append((f"${variable['name']}", variable["query"]["query"]))
    return queries


def labels_used(expr: str) -> set[str]:
    """Label names an expression groups, joins or matches by."""
    used: set[str] = set()
    for clause in re.findall(
        r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", expr
    ):
        used.update(x.strip() for x in clause.split(",") if x.strip())
    for matchers in re.findall(r"\{([^}]*)\}", expr):
        used.update(re.findall(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)", matchers))
    used.update(re.findall(r"label_values\(\s*[a-z_]+\s*,\s*([a-z_]+)\s*\)", expr))
    return used


def check(where: str, expr: str, scraped: dict[str, set[str]]) -> None:
    names = set(METRIC.findall(expr))
    assert names, f"{where}: names no retention metric"
    assert names <= registry_names(), (where, names - registry_names())
    missing = names - set(scraped)
    assert not missing, f"{where}: not on the /metrics of retention run: {missing}"
    known = set().union(*(scraped[n] for n in names)) | TARGET_LABELS
    for name in names:  # label names come from the scrape, or from the definition if unsampled
        known |= _defined_labels(name)
    assert labels_used(expr) <= known, (where, labels_used(expr) - known)


def _defined_labels(name: str) -> set[str]:
    """The label names a metric is declared with (for families the scrape had no sample of)."""
    base = re.sub(r"_(total|bucket|count|sum)$", "", name)
    for attribute in vars(Metrics()).values():
        if getattr(attribute, "_name", None) in (name, base):
            return set(getattr(attribute, "_labelnames", ()))
    return set()


def test_every_alert_names_exported_metrics_and_labels(scraped: dict[str, set[str]]) -> None:
    for rule in rules():
        check(rule["alert"], rule["expr"], scraped)


def test_every_dashboard_query_names_exported_metrics_and_labels(
    scraped: dict[str, set[str]],
) -> None:
    queries = dashboard_queries()
    assert len(queries) >= 15
    for title, expr in queries:
        check(title, expr, scraped)


def test_the_alerts_the_runbook_needs_are_shipped() -> None:
    """Reconcile failing, overdue records past the schedule, a hold matching nothing, a 429
    rate, a trend-breaker block, rejected policies, a shard down and no reconciler at all."""
    alerts = {r["alert"]: r for r in rules()}
    expected = {
        "RetentionRecordsOverdue": {
            "retention_policy_overdue_records",
            "retention_policy_schedule_seconds",
        },
        "RetentionReconcileFailing": {
            "retention_reconcile_runs_total",
            "retention_last_success_timestamp_seconds",
        },
        "RetentionHoldMatchesNothing": {"retention_hold_unmatched"},
        "RetentionRateLimited": {
            "retention_pinecone_rate_limited_total",
            "retention_pinecone_requests_total",
        },
        "RetentionTrendBlocked": {"retention_trend_blocked_total"},
        "RetentionPoliciesRejected": {"retention_config_reload_failures_total"},
        "RetentionShardDown": {"retention_shards"},
        "RetentionAbsent": {"retention_shards"},
    }
    assert set(alerts) == set(expected)
    for name, metrics in expected.items():
        assert metrics <= set(METRIC.findall(alerts[name]["expr"])), name
        assert alerts[name]["labels"]["severity"] in {"warning", "critical"}
        assert alerts[name]["annotations"]["summary"] and alerts[name]["annotations"]["description"]


def test_the_dashboard_has_the_panels_operators_look_for() -> None:
    """Deletions per policy, 429s and retries, overdue records, the last verified reconcile,
    plan and apply durations, blocked policies; unique ids, and panels that do not overlap."""
    board = dashboard()
    panels = board["panels"]
    by_metric = {
        m: [p["title"] for p in panels for t in p.get("targets", []) if m in t["expr"]]
        for m in (
            "retention_records_deleted_total",
            "retention_pinecone_rate_limited_total",
            "retention_policy_overdue_records",
            "retention_last_verified_reconcile_timestamp_seconds",
            "retention_plan_duration_seconds_bucket",
            "retention_apply_duration_seconds_bucket",
        )
    }
    assert all(by_metric.values()), by_metric
    assert any(
        'outcome=~"blocked|trend_blocked' in t["expr"] for p in panels for t in p.get("targets", [])
    )
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        g = panel["gridPos"]
        assert g["x"] + g["w"] <= 24
        mine = {
            (x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])
        }
        assert not mine & cells, panel["title"]
        cells |= mine
    assert board["uid"] == "retention" and board["schemaVersion"] >= 36
    for panel in panels:
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}


def test_custom_resources_match_the_operator_api() -> None:
    """kubernetes-validate has no schema for custom resources (it raises SchemaNotFoundError), so
    their metadata is validated by it as a core object's, and their spec against the
    monitoring.coreos.com/v1 fields they use."""
    for file, schema in (
        ("prometheus-rule.yaml", PROMETHEUS_RULE),
        ("service-monitor.yaml", SERVICE_MONITOR),
    ):
        (document,) = load_all(MONITORING / file)
        with pytest.raises(kubernetes_validate.SchemaNotFoundError):
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        shell = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": document["metadata"]}
        kubernetes_validate.validate(shell, KUBERNETES_VERSION, strict=True)
        jsonschema.validate(document, schema)
    broken = yaml.safe_load((MONITORING / "prometheus-rule.yaml").read_text())
    broken["spec"]["groups"][0]["rules"][0]["exprr"] = "1"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, PROMETHEUS_RULE)


@pytest.mark.skipif(kubectl() is None, reason="no kubectl to run `kubectl kustomize`")
def test_rendered_monitoring_is_valid_and_selects_the_metrics_service() -> None:
    """`kubectl kustomize deploy/monitoring`: a strictly valid dashboard ConfigMap for Grafana's
    sidecar, and a ServiceMonitor whose selector picks the base's retention-metrics Service
    (and not the sharded overlay's headless one, which would scrape every pod twice)."""
    rendered = render(MONITORING)
    kinds = sorted(d["kind"] for d in rendered)
    assert kinds == ["ConfigMap", "PrometheusRule", "ServiceMonitor"]
    (board,) = [d for d in rendered if d["kind"] == "ConfigMap"]
    kubernetes_validate.validate(board, KUBERNETES_VERSION, strict=True)
    assert board["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(board["data"]["retention-dashboard.json"]) == dashboard()
    (monitor,) = [d for d in rendered if d["kind"] == "ServiceMonitor"]
    selector = monitor["spec"]["selector"]["matchLabels"]
    services = [
        d
        for directory in (
            DEPLOY / "kubernetes" / "base",
            DEPLOY / "kubernetes" / "overlays" / "sharded",
        )
        for d in render(directory)
        if d["kind"] == "Service"
    ]
    chosen = {
        d["metadata"]["name"]
        for d in services
        if selector.items() <= d["metadata"].get("labels", {}).items()
    }
    assert chosen == {"retention-metrics"}
    ports = {
        p["name"]
        for d in services
        if d["metadata"]["name"] == "retention-metrics"
        for p in d["spec"]["ports"]
    }
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= ports
    assert {d["metadata"]["namespace"] for d in rendered} == {"retention"}
