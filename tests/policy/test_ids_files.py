"""ID files: regular files inside the directory of their policy file, read with bounds.

A policy names its ID file by a path relative to the policy file's directory (the policy tree
of that file), and the file must stay inside it: no absolute path, no `..`, no symlink out, no
FIFO, socket or device, at most 1 GiB. Nothing outside the tree is ever read, so no error can
quote a line of it. The same refusals hold through `retention plan`.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from retention.cli import main
from retention.emulator import Emulator, EmulatorConfig
from retention.errors import PlanError
from retention.policy import load_policies
from retention.policy.idfile import MAX_BYTES, id_batches, lines
from tests.builders import policy, yaml_text
from tests.cli.conftest import point_cli_at
from tests.cli.helpers import AT, run_cli, seed_tenants
from tests.policy.bad_input import HEADER

OUTSIDE = "ID files must be inside the directory of their policy file ({d})"
"""The start of every refusal of an ID file outside the policy tree; {d} is the tree."""

# (id, document text, expected lines with {f} the policy file, {d} its directory)
CASES = [
    (
        "ids-file-absolute",
        HEADER + "    - name: r\n      idsFile: /etc/passwd\n",
        [
            "{f}:11:16: error: spec.rules[0].idsFile: ids file '/etc/passwd': "
            + OUTSIDE
            + ", named by a relative path; this one is absolute"
        ],
    ),
    (
        "ids-file-dot-dot",
        HEADER + "    - name: r\n      idsFile: erasure/../../secret.txt\n",
        [
            "{f}:11:16: error: spec.rules[0].idsFile: ids file 'erasure/../../secret.txt': "
            + OUTSIDE
            + "; this path leads out of it through '..'"
        ],
    ),
    (
        "ids-file-nul",
        HEADER + '    - name: r\n      idsFile: "ids\\0.txt"\n',
        [
            "{f}:11:16: error: spec.rules[0].idsFile: ids file 'ids\\x00.txt': a path cannot "
            "contain NUL"
        ],
    ),
    (
        "ids-file-directory",
        HEADER + "    - name: r\n      idsFile: .\n",
        [
            "{f}:11:16: error: spec.rules[0].idsFile: ids file '.' is a directory, not a regular file"
        ],
    ),
]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A policy directory, and next to it (outside) a file holding a secret."""
    (tmp_path / "secret.txt").write_text("root:hunter2 \n")
    policies = tmp_path / "policies"
    (policies / "erasure").mkdir(parents=True)
    return policies


def ids_policy(tree: Path, ids_file: str) -> Path:
    path = tree / "p.yaml"
    path.write_text(HEADER + f"    - name: r\n      idsFile: {ids_file}\n")
    return path


def validate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    capsys.readouterr()
    code = main(["validate", *args])
    captured = capsys.readouterr()
    assert "hunter2" not in captured.out + captured.err
    return code, captured.out.splitlines()


@pytest.mark.timeout(10)
def test_ids_file_symlinked_out_of_the_tree_is_not_read(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A symlink (of the file or of a directory on its way) that resolves outside the policy
    file's directory is refused; nothing of the target is quoted, in either format."""
    (tree / "erasure" / "ids.txt").symlink_to("../../secret.txt")
    (tree / "outside").symlink_to("..")
    for name in ("erasure/ids.txt", "outside/secret.txt"):
        policy = ids_policy(tree, name)
        expected = (
            f"{policy}:11:16: error: spec.rules[0].idsFile: ids file '{name}': "
            + OUTSIDE.replace("{d}", str(tree))
            + "; this path leads out of it through a symlink"
        )
        assert validate(capsys, str(policy)) == (1, [expected])
        code, out = validate(capsys, "--format", "github", str(policy))
        assert code == 1 and len(out) == 1 and out[0].startswith("::error file=")


def test_ids_file_outside_the_tree_is_never_quoted(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`../secret.txt` (whose line would be an invalid ID, quoted in the message if it were
    read) is refused without reading it, in text and in GitHub annotations."""
    policy = ids_policy(tree, "../secret.txt")
    for extra in ([], ["--format", "github"]):
        code, out = validate(capsys, *extra, str(policy))
        assert code == 1 and len(out) == 1
        assert "leads out of it through '..'" in out[0]


def test_ids_file_symlink_inside_the_tree_is_followed(tree: Path) -> None:
    """A link that stays inside the policy's directory (as a ConfigMap mount's do) is fine."""
    (tree / "erasure" / "..data").mkdir()
    (tree / "erasure" / "..data" / "ids.txt").write_text("a\nb\n")
    (tree / "erasure" / "ids.txt").symlink_to("..data/ids.txt")
    ids_policy(tree, "erasure/ids.txt")
    (loaded,) = load_policies([tree]).policies
    assert loaded.rules[0].ids_file is not None
    assert loaded.rules[0].ids_file.count == 2
    assert loaded.rules[0].ids_file.path == str(tree / "erasure" / "ids.txt")


@pytest.mark.timeout(10)
def test_ids_file_fifo_socket_and_device(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A FIFO (which would block the reader forever) or a socket in the tree is refused
    without being opened; a device is outside the tree by its path."""
    os.mkfifo(tree / "erasure" / "pipe.txt")
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(tree / "erasure" / "sock.txt"))
        (tree / "erasure" / "zero.txt").symlink_to("/dev/zero")
        for name, problem in [
            ("pipe.txt", "is a named pipe (FIFO), not a regular file"),
            ("sock.txt", "is a socket, not a regular file"),
        ]:
            policy = ids_policy(tree, f"erasure/{name}")
            assert validate(capsys, str(policy)) == (
                1,
                [
                    f"{policy}:11:16: error: spec.rules[0].idsFile: ids file 'erasure/{name}' "
                    + problem
                ],
            )
        policy = ids_policy(tree, "erasure/zero.txt")
        code, out = validate(capsys, str(policy))
        assert code == 1 and out[0].endswith("this path leads out of it through a symlink")


def test_ids_file_size_cap(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An ID file over 1 GiB is refused from its size, before a byte of it is read."""
    with (tree / "erasure" / "huge.txt").open("wb") as handle:
        handle.truncate(MAX_BYTES + 1)
    policy = ids_policy(tree, "erasure/huge.txt")
    assert validate(capsys, str(policy)) == (
        1,
        [
            f"{policy}:11:16: error: spec.rules[0].idsFile: ids file 'erasure/huge.txt' has "
            "1,073,741,825 bytes; ID files are at most 1 GiB (1,073,741,824 bytes)"
        ],
    )


def test_ids_file_long_line_is_measured_not_held(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A line of 3 MB without a newline is reported with its length, and lines are read a
    few hundred bytes at a time (the reader never keeps more of a line than an ID needs)."""
    ids = tree / "erasure" / "ids.txt"
    ids.write_bytes(b"ok-1\r\n" + b"x" * 3_000_000)
    policy = ids_policy(tree, "erasure/ids.txt")
    assert validate(capsys, str(policy)) == (
        1,
        [f"{ids}:2:1: error: record IDs are at most 512 characters, this one has 3000000"],
    )
    with ids.open("rb") as handle:
        assert [(n, len(head), length) for n, head, length in lines(handle)] == [
            (1, 4, 4),
            (2, 514, 3_000_000),
        ]


@pytest.mark.timeout(10)
def test_id_batches_refuse_a_file_swapped_for_a_fifo(tmp_path: Path) -> None:
    """Planning and applying read ID files through id_batches, which refuses a FIFO put in
    place of a checked file instead of blocking on it."""
    path = tmp_path / "ids.txt"
    os.mkfifo(path)
    with pytest.raises(PlanError) as caught:
        list(id_batches(str(path)))
    assert str(caught.value) == f"ID file {path} is a named pipe (FIFO), not a regular file"


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """Index `support` with 300 records in `tenant-a`, the CLI pointed at it."""
    with Emulator.start(EmulatorConfig(limits="off")) as emulator:
        seed_tenants(emulator, "support", {"tenant-a": 300})
        point_cli_at(monkeypatch, emulator)
        yield emulator
    structlog.reset_defaults()


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("ids_file", "problem"),
    [
        (
            "erasure/pipe.txt",
            "ids file 'erasure/pipe.txt' is a named pipe (FIFO), not a regular file",
        ),
        (
            "../secret.txt",
            "ids file '../secret.txt': " + OUTSIDE + "; this path leads out of it through '..'",
        ),
    ],
    ids=["fifo", "escape"],
)
def test_plan_refuses_an_ids_file_fifo_or_escape(
    live: Emulator, tree: Path, capsys: pytest.CaptureFixture[str], ids_file: str, problem: str
) -> None:
    """`retention plan` stops at the same one line, exit 1, having deleted nothing."""
    os.mkfifo(tree / "erasure" / "pipe.txt")
    written = tree / "p.yaml"
    written.write_text(
        yaml_text(policy("erase", "support", ["*"], [{"name": "r", "idsFile": ids_file}]))
    )
    before = len(live.records("support", "tenant-a"))
    run = run_cli(capsys, "plan", str(tree), "--at", AT)
    assert (run.code, run.out) == (1, "")
    assert run.messages == [
        f"{written}:14:14: error: spec.rules[0].idsFile: " + problem.replace("{d}", str(tree))
    ]
    assert "hunter2" not in run.err
    assert len(live.records("support", "tenant-a")) == before == 300
