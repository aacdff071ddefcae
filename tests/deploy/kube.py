"""Helpers for the deploy tests: the kustomize tree, rendering it, and kubelet-style mounts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
KUSTOMIZE = DEPLOY / "kubernetes"
BASE = KUSTOMIZE / "base"
OVERLAYS = sorted(p for p in (KUSTOMIZE / "overlays").iterdir() if p.is_dir())
KUSTOMIZATIONS = [BASE, *OVERLAYS]
POLICIES = REPO / "policies"
KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")

# The oldest Kubernetes minor still widely supported by managed offerings; schemas for it ship
# inside kubernetes-validate (1.25 onwards), so validation needs no network.
KUBERNETES_VERSION = "1.30.0"


def load_all(path: Path) -> list[dict[str, Any]]:
    """Every non-empty YAML document in `path`."""
    with path.open(encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]


def kustomization(directory: Path) -> dict[str, Any]:
    """The parsed kustomization file of `directory` (any of the names kustomize accepts)."""
    (path,) = [directory / n for n in KUSTOMIZATION_NAMES if (directory / n).is_file()]
    (doc,) = load_all(path)
    return doc


def resource_files(directory: Path) -> Iterator[Path]:
    """The plain manifest files a kustomization lists under resources (not other kustomizations)."""
    for entry in kustomization(directory).get("resources", []):
        path = (directory / entry).resolve()
        if path.is_file():
            yield path


def configmaps_from_generator(directory: Path) -> dict[str, dict[str, str]]:
    """ConfigMap name -> {key: content} as kustomize's configMapGenerator builds it from files."""
    built: dict[str, dict[str, str]] = {}
    for generator in kustomization(directory).get("configMapGenerator", []):
        data: dict[str, str] = {}
        for entry in generator.get("files", []):
            key, _, source = entry.rpartition("=") if "=" in entry else ("", "", entry)
            data[key or Path(source).name] = (directory / source).read_text(encoding="utf-8")
        built[generator["name"]] = data
    return built


def kubectl() -> str | None:
    """A kubectl (which embeds kustomize) on PATH or next to this Python, if there is one."""
    for candidate in (
        Path(sysconfig.get_path("scripts")) / "kubectl",
        Path(sys.executable).parent / "kubectl",
    ):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("kubectl")


def render(directory: Path) -> list[dict[str, Any]]:
    """`kubectl kustomize directory`: the manifests exactly as `kubectl apply -k` would send them."""
    binary = kubectl()
    assert binary is not None
    done = subprocess.run(
        [binary, "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def mount_configmap(target: Path, data: dict[str, str]) -> None:
    """Lay `data` out in `target` the way the kubelet's atomic writer mounts a ConfigMap volume.

    Files live in a timestamped hidden directory, `..data` links to it, and each key is a link
    through `..data`; an update writes a new hidden directory and swaps `..data`.
    """
    target.mkdir(parents=True, exist_ok=True)
    stamped = target / "..2026_11_24_16_00_00.000000001"
    stamped.mkdir()
    for key, content in data.items():
        (stamped / key).write_text(content, encoding="utf-8")
    (target / "..data").symlink_to(stamped.name)
    for key in data:
        (target / key).symlink_to(Path("..data") / key)
