"""The shipped alert rules name only metrics that `retention run` exports."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from retention.service.metrics import Metrics

MONITORING = Path(__file__).resolve().parents[2] / "deploy" / "monitoring"


def exported() -> set[str]:
    """Every metric name the service's registry can expose (families and their samples)."""
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


def test_every_alert_names_exported_metrics() -> None:
    names = exported()
    for rule in rules():
        used = set(re.findall(r"\bretention_[a-z_]+\b", rule["expr"]))
        assert used, rule["alert"]
        assert used <= names, (rule["alert"], used - names)


def test_the_overdue_and_trend_alerts_are_shipped() -> None:
    alerts = {r["alert"]: r for r in rules()}
    overdue = alerts["RetentionRecordsOverdue"]["expr"]
    assert "retention_policy_overdue_records" in overdue
    assert "retention_policy_schedule_seconds" in overdue
    assert "retention_trend_blocked_total" in alerts["RetentionTrendBlocked"]["expr"]
