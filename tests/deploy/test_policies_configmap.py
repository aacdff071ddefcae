"""The policies reach the pod intact: generated into ConfigMaps, mounted, valid."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path, PurePosixPath

from tests.deploy.kube import (
    BASE,
    POLICIES,
    REPO,
    configmaps_from_generator,
    load_all,
    mount_configmap,
    resource_files,
)

GENERATOR = "policies/Kustomization"


def tree(root: Path) -> dict[str, bytes]:
    """Relative POSIX path -> content of every policy file below `root` (the generator and
    hidden entries are not policy files)."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
        and path.name != "Kustomization"
        and not any(part.startswith(".") for part in path.parts)
    }


def policy_mounts() -> tuple[str, dict[str, str]]:
    """The policies directory the container reads, and mount path -> ConfigMap under it."""
    (deployment,) = [
        d for f in resource_files(BASE) for d in load_all(f) if d["kind"] == "Deployment"
    ]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    root = container["args"][1]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {
        m["mountPath"]: volumes[m["name"]]["configMap"]["name"]
        for m in container["volumeMounts"]
        if "configMap" in volumes[m["name"]]
    }
    return root, mounts


def lay_out_pod_filesystem(tmp_path: Path) -> Path:
    """Mount the generated ConfigMaps under tmp_path as the kubelet would; return the policies dir."""
    root, mounts = policy_mounts()
    configmaps = configmaps_from_generator(POLICIES)
    for mount_path in sorted(mounts, key=lambda p: len(PurePosixPath(p).parts)):
        mount_configmap(tmp_path / mount_path.lstrip("/"), configmaps[mounts[mount_path]])
    return tmp_path / root.lstrip("/")


def retention(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the retention command line in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "retention", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
    )


def test_every_policy_file_is_in_the_configmap_mounted_at_its_path() -> None:
    """Each file of policies/ is a key of the ConfigMap mounted at its directory, and no more."""
    root, mounts = policy_mounts()
    configmaps = configmaps_from_generator(POLICIES)
    expected: dict[str, dict[str, str]] = {}
    for relative, content in tree(POLICIES).items():
        directory = PurePosixPath(root, relative).parent.as_posix()
        assert directory in mounts, (
            f"policies/{relative}: no ConfigMap is mounted at {directory}; add a generator "
            f"to {GENERATOR} and a volume to deploy/kubernetes/base/deployment.yaml"
        )
        expected.setdefault(mounts[directory], {})[PurePosixPath(relative).name] = content.decode()
    for name, data in expected.items():
        missing = sorted(set(data) - set(configmaps[name]))
        assert not missing, f"add {missing} to the {name} configMapGenerator files in {GENERATOR}"
    assert configmaps == expected


def test_retention_validates_the_mounted_configmaps(tmp_path: Path) -> None:
    """`retention validate` reads the kubelet-style mount exactly as it reads policies/."""
    mounted = lay_out_pod_filesystem(tmp_path)
    assert (mounted / "..data").is_symlink()
    assert (mounted / "erasure" / "..data").is_symlink()

    from_repo = retention("validate", str(POLICIES))
    from_mount = retention("validate", str(mounted))
    assert from_repo.returncode == 0, from_repo.stdout + from_repo.stderr
    assert from_mount.returncode == 0, from_mount.stdout + from_mount.stderr
    assert from_mount.stdout.splitlines()[-1] == from_repo.stdout.splitlines()[-1]
    assert from_mount.stdout.count("warning:") == from_repo.stdout.count("warning:")


def test_mounted_layout_loads_each_policy_once(tmp_path: Path) -> None:
    """The loader skips the `..data` and timestamped entries, so no file is read twice."""
    from retention.policy.loading import policy_files

    mounted = lay_out_pod_filesystem(tmp_path)
    files, errors = policy_files([mounted])
    assert not errors
    relative = sorted(Path(f).relative_to(mounted).as_posix() for f in files)
    assert relative == sorted(p for p in tree(POLICIES) if p.endswith((".yaml", ".yml")))
