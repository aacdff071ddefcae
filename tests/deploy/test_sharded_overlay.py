"""The sharded overlay: a StatefulSet whose pods each take one shard, and whose pod template
stays the base Deployment's but for the sharding itself."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from retention.errors import RetentionError
from retention.service.sharding import Shard, parse_shard
from tests.deploy.kube import BASE, KUSTOMIZE, kubectl, load_all, render

SHARDED = KUSTOMIZE / "overlays" / "sharded"


def statefulset() -> dict[str, Any]:
    (found,) = [d for d in load_all(SHARDED / "statefulset.yaml") if d["kind"] == "StatefulSet"]
    return found


def base_deployment() -> dict[str, Any]:
    (found,) = [d for d in load_all(BASE / "deployment.yaml") if d["kind"] == "Deployment"]
    return found


def container(workload: dict[str, Any]) -> dict[str, Any]:
    (found,) = workload["spec"]["template"]["spec"]["containers"]
    return found


def env(workload: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e for e in container(workload)["env"]}


def test_the_pod_template_is_the_deployments_but_for_the_shard() -> None:
    """Only `--shard auto`, RETENTION_SHARDS and the claim template differ from the base."""
    sharded = copy.deepcopy(statefulset()["spec"]["template"])
    plain = copy.deepcopy(base_deployment()["spec"]["template"])
    sharded_container, plain_container = (
        sharded["spec"]["containers"][0],
        plain["spec"]["containers"][0],
    )
    assert sharded_container.pop("args") == [*plain_container.pop("args"), "--shard", "auto"]
    sharded_env = [e for e in sharded_container.pop("env") if e["name"] != "RETENTION_SHARDS"]
    assert sharded_env == plain_container.pop("env")
    (state,) = [v for v in plain["spec"]["volumes"] if v["name"] == "state"]
    assert state["persistentVolumeClaim"]["claimName"] == "retention-state"
    plain["spec"]["volumes"].remove(state)
    assert sharded == plain


def test_replicas_and_shard_count_agree_and_every_pod_gets_its_shard() -> None:
    """The pods retention-0 .. retention-(N-1) parse to shards 0..N-1 of N, as `run` would;
    a pod beyond (a scale-up without RETENTION_SHARDS) refuses to start."""
    workload = statefulset()
    replicas = workload["spec"]["replicas"]
    count = env(workload)["RETENTION_SHARDS"]["value"]
    assert int(count) == replicas > 1
    assert env(workload)["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    name = workload["metadata"]["name"]
    for ordinal in range(replicas):
        shard = parse_shard("auto", {"POD_NAME": f"{name}-{ordinal}", "RETENTION_SHARDS": count})
        assert shard == Shard(ordinal, replicas)
    with pytest.raises(RetentionError, match="RETENTION_SHARDS"):
        parse_shard("auto", {"POD_NAME": f"{name}-{replicas}", "RETENTION_SHARDS": count})


def test_each_pod_has_its_own_state_claim_and_keeps_it() -> None:
    """One state volume (and erasure ledger) per pod, mounted at RETENTION_STATE_DIR, retained
    when the StatefulSet is scaled down or deleted."""
    spec = statefulset()["spec"]
    (claim,) = spec["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "state"
    mounts = {m["name"]: m["mountPath"] for m in container(statefulset())["volumeMounts"]}
    assert mounts["state"] == env(statefulset())["RETENTION_STATE_DIR"]["value"]
    assert spec["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
    }
    assert spec["podManagementPolicy"] == "Parallel"


@pytest.mark.skipif(kubectl() is None, reason="no kubectl to run `kubectl kustomize`")
def test_rendered_overlay_has_the_statefulset_instead_of_the_deployment() -> None:
    rendered = render(SHARDED)
    kinds = [d["kind"] for d in rendered]
    assert "Deployment" not in kinds and "PersistentVolumeClaim" not in kinds
    (workload,) = [d for d in rendered if d["kind"] == "StatefulSet"]
    assert workload["metadata"]["namespace"] == "retention"
    assert container(workload)["image"].startswith("registry.example.com/")
    services = {d["metadata"]["name"]: d for d in rendered if d["kind"] == "Service"}
    assert services[workload["spec"]["serviceName"]]["spec"]["clusterIP"] == "None"
    assert "retention-metrics" in services


def test_gitops_never_prunes_the_base_state_claim() -> None:
    """Switching to the sharded overlay drops the claim from the rendered manifests; Argo CD
    and Flux must leave it, and the ledger in it, in place."""
    (claim,) = load_all(BASE / "persistentvolumeclaim.yaml")
    annotations = claim["metadata"]["annotations"]
    assert annotations["argocd.argoproj.io/sync-options"] == "Prune=false"
    assert annotations["kustomize.toolkit.fluxcd.io/prune"] == "disabled"
