"""Policy files as hostile input: aliases, merge keys, depth, size, symlink loops, FIFOs.

Each is refused with one line at its FILE:LINE:COL and exit 1, quickly: nothing expands, nothing
recurses without bound, nothing is read twice or blocks.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from retention.cli import main
from retention.errors import PolicyError
from retention.policy import load_policies
from retention.policy.loading import MAX_POLICY_BYTES, policy_files
from retention.policy.yamlsource import MAX_DEPTH, load_documents
from tests.policy.bad_input import HEADER, RULE

# (id, document text, expected lines with {f} the policy file)
CASES = [
    (
        "anchor",
        HEADER + "    - name: r\n      where: &w {a: 1}\n    - name: s\n      where: *w\n",
        [
            "{f}:11:14: error: YAML anchors (&w) are not allowed in policy files; write the value "
            "out where it is used"
        ],
    ),
    (
        "alias-without-anchor",
        HEADER + "    - name: r\n      where: *w\n",
        [
            "{f}:11:14: error: YAML aliases (*w) are not allowed in policy files; write the value "
            "out in full"
        ],
    ),
    (
        "merge-key",
        HEADER + "    - name: r\n      <<: {where: {a: 1}}\n",
        [
            "{f}:11:7: error: YAML merge keys (<<) are not allowed in policy files; write the "
            "keys out"
        ],
    ),
    (
        "alias-bomb",
        "a: &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n"
            for i in range(8)
        ),
        [
            "{f}:1:4: error: YAML anchors (&a) are not allowed in policy files; write the value "
            "out where it is used"
        ],
    ),
    (
        "and-300-deep",
        HEADER + "    - name: r\n      where: " + "{$and: [" * 300 + "{a: 1}" + "]}" * 300 + "\n",
        [
            "{f}:11:254: error: nested deeper than 64 levels of "
            "mappings and lists; a policy document is never this deep"
        ],
    ),
    (
        "plain-list-300-deep",
        "[" * 300 + "]" * 300 + "\n",
        [
            "{f}:1:65: error: nested deeper than 64 levels of mappings and lists; a policy "
            "document is never this deep"
        ],
    ),
]


@pytest.mark.parametrize("fast", [True, False], ids=["libyaml", "python"])
def test_both_parsers_refuse_aliases_and_bound_depth(fast: bool) -> None:
    """With or without libyaml, aliases are refused, depth is capped at the same node and a
    control character is reported on one line at its position."""
    with pytest.raises(PolicyError) as caught:
        list(load_documents("a: *x\n", "f.yaml", fast=fast))
    assert str(caught.value).startswith("f.yaml:1:4: error: YAML aliases (*x)")
    deepest = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert [d.data for d in load_documents(deepest, "f.yaml", fast=fast)]
    with pytest.raises(PolicyError) as caught:
        list(load_documents("[" + deepest + "]", "f.yaml", fast=fast))
    assert caught.value.location.column == MAX_DEPTH + 1
    with pytest.raises(PolicyError) as caught:  # libyaml counts bytes here, PyYAML characters
        list(load_documents("é€: x\nb: c\x00\n", "f.yaml", fast=fast))
    assert str(caught.value) == (
        "f.yaml:2:5: error: invalid YAML: character #x0000 is not allowed in YAML text"
    )


def test_policy_file_size_cap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A policy file over 256 KiB is refused before it is read; one at the cap is read."""
    at_cap = tmp_path / "at-cap.yaml"
    body = HEADER + RULE
    at_cap.write_text(body + "#" * (MAX_POLICY_BYTES - len(body) - 1) + "\n")
    assert at_cap.stat().st_size == MAX_POLICY_BYTES
    assert main(["validate", str(at_cap)]) == 0
    over = tmp_path / "over.yaml"
    with over.open("wb") as handle:
        handle.truncate(10 * MAX_POLICY_BYTES + 1)
    capsys.readouterr()
    assert main(["validate", str(over)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{over}:1:1: error: this file has 2,621,441 bytes; policy files are at most 256 KiB "
        "(262,144 bytes)"
    ]


@pytest.mark.timeout(10)
def test_symlink_loops_are_walked_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two `ln -s . x` links and a link back up: every real directory is visited once."""
    (tmp_path / "p.yaml").write_text(HEADER + RULE)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "q.yaml").write_text(HEADER.replace("name: p", "name: q") + RULE)
    (tmp_path / "x").symlink_to(".")
    (tmp_path / "y").symlink_to(".")
    (tmp_path / "sub" / "up").symlink_to("..")
    files, errors = policy_files([tmp_path])
    assert (files, errors) == ([str(tmp_path / "p.yaml"), str(tmp_path / "sub" / "q.yaml")], [])
    assert main(["validate", str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "ok: 2 policies and 0 legal holds in 2 files"


def test_links_to_one_file_read_it_once(tmp_path: Path) -> None:
    """A file reached by its name, by a symlink and again on the command line is read once,
    under its real name."""
    (tmp_path / "b.yaml").write_text(HEADER + RULE)
    (tmp_path / "a.yaml").symlink_to("b.yaml")
    (tmp_path / "linked").symlink_to(".")
    files, errors = policy_files([tmp_path, tmp_path / "a.yaml", tmp_path / "b.yaml"])
    assert (files, errors) == ([str(tmp_path / "b.yaml")], [])
    assert len(load_policies([tmp_path, tmp_path / "a.yaml"]).policies) == 1


@pytest.mark.timeout(10)
def test_fifos_and_devices_are_never_opened(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A FIFO found in the walk or named on the command line, or a device, is an error; a
    FIFO not named like a policy is not looked at."""
    (tmp_path / "p.yaml").write_text(HEADER + RULE)
    os.mkfifo(tmp_path / "pipe.yaml")
    os.mkfifo(tmp_path / "other-pipe")
    assert main(["validate", str(tmp_path), str(tmp_path / "other-pipe"), "/dev/null"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "/dev/null:1:1: error: this file is a character device, not a regular file",
        f"{tmp_path}/other-pipe:1:1: error: this file is a named pipe (FIFO), not a regular file",
        f"{tmp_path}/pipe.yaml:1:1: error: this file is a named pipe (FIFO), not a regular file",
    ]
