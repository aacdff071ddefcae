"""Several Pinecone projects from one process: each named project's key, host and client.

A policy names its project (`spec.project: analytics`) and its index is then written
`analytics:INDEX` everywhere the tool names it (plans, reports, metrics, the ledger): ':' is in
no Pinecone index name, so a qualified name is never taken for a plain one. The client of the
default project answers for the plain names and, for a qualified one, hands the request to the
named project's own client (its own key, limiter and retries), made on first use from

    PINECONE_API_KEY_<NAME>            the key, or
    PINECONE_API_KEY_<NAME>_FILE       a file holding it (a mounted Secret)
    PINECONE_CONTROLLER_HOST_<NAME>    its controller, by default PINECONE_CONTROLLER_HOST

with NAME upper-cased and '-' written '_'. A project without a key of its own is refused: the
default project's key would reach the default project's index of the same name, and delete
there what a policy meant for another project. Keys are hidden from every log line.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping

from retention import logs
from retention.errors import RetentionError
from retention.pinecone.models import controller_url
from retention.pinecone.session import check_api_key

SEPARATOR = ":"
MAX_KEY_FILE_BYTES = 4096


def split_index(name: str) -> tuple[str | None, str]:
    """(project, index) of a name as plans write it; project None for the default one."""
    project, sep, index = name.partition(SEPARATOR)
    return (project, index) if sep else (None, name)


def env_name(project: str) -> str:
    """The environment variable suffix of a project: `eu-west` -> `EU_WEST`."""
    return project.upper().replace("-", "_")


def project_key(project: str, environ: Mapping[str, str]) -> str:
    """The API key of `project` from the environment or the file it names; one line if none."""
    variable = f"PINECONE_API_KEY_{env_name(project)}"
    key = environ.get(variable, "")
    if not key and environ.get(f"{variable}_FILE"):
        key = read_key_file(environ[f"{variable}_FILE"], f"{variable}_FILE")
    if not key:
        raise RetentionError(
            f"project {project}: {variable} is not set (nor {variable}_FILE, a file holding the "
            "key); each named project needs its own key: the default one would reach another "
            "project's indexes"
        )
    try:
        check_api_key(key, name=variable)
    except ValueError as exc:
        raise RetentionError(str(exc)) from None
    logs.hide(key)
    return key


def project_controller(project: str, environ: Mapping[str, str], default: str) -> str:
    variable = f"PINECONE_CONTROLLER_HOST_{env_name(project)}"
    try:
        return controller_url(environ.get(variable) or default, name=variable)
    except ValueError as exc:
        raise RetentionError(str(exc)) from None


def read_key_file(path: str, variable: str) -> str:
    """The key in a Secret's file: a regular file of at most 4 KiB, one line (a final line
    break is dropped, as Kubernetes and editors leave one)."""
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_KEY_FILE_BYTES:
            raise RetentionError(
                f"{variable}: {path} is not a regular file of at most {MAX_KEY_FILE_BYTES} bytes"
            )
        with open(path, "rb") as handle:
            raw = handle.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise RetentionError(f"{variable}: cannot read {path}: {exc.strerror}") from None
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise RetentionError(f"{variable}: {path} holds no API key (not ASCII text)") from None
    return text.removesuffix("\n").removesuffix("\r")
