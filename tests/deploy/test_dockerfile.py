"""The Dockerfile's structure, read without a Docker engine so that it cannot rot silently."""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field

from tests.deploy.kube import BASE, DEPLOY, REPO, load_all

DOCKERFILE = DEPLOY / "Dockerfile"


@dataclass
class Stage:
    """One FROM ... stage: its image, optional name and instructions (keyword, argument)."""

    image: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        """The arguments of every instruction `keyword` in this stage."""
        return [arg for key, arg in self.instructions if key == keyword]


def instructions() -> list[tuple[str, str]]:
    """(KEYWORD, argument) per instruction, with comments dropped and continuations joined."""
    logical, current = [], ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        current += line.rstrip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        logical.append(current.strip())
        current = ""
    assert not current
    return [(k.upper(), a.strip()) for k, _, a in (i.partition(" ") for i in logical)]


def stages() -> list[Stage]:
    """The stages, with ARG defaults declared before the first FROM substituted into images."""
    args: dict[str, str] = {}
    found: list[Stage] = []
    for keyword, argument in instructions():
        if keyword == "ARG" and not found:
            name, _, default = argument.partition("=")
            args[name] = default
        elif keyword == "FROM":
            image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], argument.split()[0])
            match = re.search(r"\s+AS\s+(\S+)$", argument, re.IGNORECASE)
            found.append(Stage(image, match.group(1) if match else None))
        else:
            assert found, f"{keyword} before FROM"
            found[-1].instructions.append((keyword, argument))
    return found


def deployment_pod() -> dict:
    """The base Deployment's pod spec."""
    (deployment,) = load_all(BASE / "deployment.yaml")
    return deployment["spec"]["template"]["spec"]


def test_multi_stage_build_installs_a_wheel_into_python_slim() -> None:
    """A builder stage builds wheels from pyproject.toml; the runtime is python:3.11-slim."""
    builder, runtime = stages()
    assert builder.name == "builder"
    assert builder.image == runtime.image == "python:3.11-slim"
    copied = [a.split()[0] for a in builder.all("COPY")]
    assert "pyproject.toml" in copied and "retention" in copied
    assert any("pip wheel" in run for run in builder.all("RUN"))
    (install,) = runtime.all("RUN")
    assert "from=builder" in install and "pip install --no-index" in install
    assert not runtime.all("COPY"), "the runtime stage takes nothing but the wheels"


def test_runs_as_a_numeric_non_root_user() -> None:
    """USER is numeric UID:GID, not root, and matches the pod's runAsUser and runAsGroup."""
    (user,) = stages()[-1].all("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and gid.isdigit() and int(uid) > 0 and int(gid) > 0
    context = deployment_pod()["securityContext"]
    assert (int(uid), int(gid)) == (context["runAsUser"], context["runAsGroup"])


def test_exec_form_entrypoint_and_default_command() -> None:
    """ENTRYPOINT and CMD are JSON arrays, so retention is PID 1 and receives SIGTERM itself."""
    runtime = stages()[-1]
    (entrypoint,) = runtime.all("ENTRYPOINT")
    (cmd,) = runtime.all("CMD")
    assert json.loads(entrypoint) == ["retention"]
    assert json.loads(cmd) == ["run", "/etc/retention/policies"]
    (container,) = deployment_pod()["containers"]
    assert container["args"][:2] == json.loads(cmd)


def test_no_writes_to_the_root_filesystem() -> None:
    """No bytecode is written, and the state directory is the one the pod mounts writable."""
    env = " ".join(stages()[-1].all("ENV"))
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    state = re.search(r"RETENTION_STATE_DIR=(\S+)", env)
    assert state is not None
    (container,) = deployment_pod()["containers"]
    assert state.group(1) in {m["mountPath"] for m in container["volumeMounts"]}


def test_dockerignore_keeps_what_the_build_copies() -> None:
    """Every path the Dockerfile copies from the context survives .dockerignore (last match wins)."""
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def ignored(path: str) -> bool:
        verdict = False
        for pattern in patterns:
            negated = pattern.startswith("!")
            glob = pattern.lstrip("!").rstrip("/").replace("**/", "*")
            parts = path.split("/")
            prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
            if any(fnmatch.fnmatchcase(p, glob) for p in prefixes):
                verdict = not negated
        return verdict

    sources = [
        source
        for stage in stages()
        for argument in stage.all("COPY")
        if not argument.startswith("--from")
        for source in argument.split()[:-1]
    ]
    assert sources
    for source in sources:
        assert (REPO / source).exists(), source
        assert not ignored(source), f".dockerignore drops {source}"
    for leftover in (".venv", ".git", "tests", "deploy", "retention/__pycache__"):
        assert ignored(leftover), f".dockerignore keeps {leftover}"
