"""`--missing-namespace`: a never-created namespace versus one that was emptied.

The official SDK's integration suite (pinecone-io/pinecone-python-client,
tests/integration/test_data_plane.py, `test_delete_nonexistent_ids_returns_none_rest`) says a
delete in a fresh namespace raises 404 while deleting the last record of an established one,
twice, succeeds. `never_created` plays that; `empty` and `not_found` are the two readings
that ignore the distinction.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import httpx
import pytest
from pinecone.errors import NotFoundError

from retention.emulator import Emulator, EmulatorConfig
from retention.emulator.command import add_arguments, config_from
from tests.emulator.conftest import StartEmulator, http, sdk_index, vec

NOT_FOUND = {"code": 5, "message": "Namespace not found", "details": []}


def _calls(c: httpx.Client, ns: str) -> dict[str, httpx.Response]:
    """Every data-plane read and delete `requestparts.existing` guards, on namespace `ns`."""
    return {
        "delete-ids": c.post("/vectors/delete", json={"namespace": ns, "ids": ["x"]}),
        "delete-filter": c.post("/vectors/delete", json={"namespace": ns, "filter": {"k": 1}}),
        "delete-all": c.post("/vectors/delete", json={"namespace": ns, "deleteAll": True}),
        "fetch": c.get("/vectors/fetch", params={"ids": ["x"], "namespace": ns}),
        "query": c.post("/query", json={"namespace": ns, "vector": vec(1), "topK": 1}),
        "list": c.get("/vectors/list", params={"namespace": ns}),
        "fetch_by_metadata": c.post(
            "/vectors/fetch_by_metadata", json={"namespace": ns, "filter": {"k": 1}}
        ),
    }


def _statuses(c: httpx.Client, ns: str) -> dict[str, int]:
    answers = _calls(c, ns)
    for r in answers.values():
        if r.status_code == 404:
            assert r.json() == NOT_FOUND
    return {op: r.status_code for op, r in answers.items()}


EVIDENCED = {"delete-ids": 404, "delete-filter": 404, "delete-all": 404, "fetch": 404, "query": 404}
ALL_OK = dict.fromkeys(
    ("delete-ids", "delete-filter", "delete-all", "fetch", "query", "list", "fetch_by_metadata"),
    200,
)


def _emptied(c: httpx.Client, ns: str) -> None:
    r = c.post(
        "/vectors/upsert", json={"namespace": ns, "vectors": [{"id": "a", "values": vec(1)}]}
    )
    assert r.status_code == 200
    assert c.post("/vectors/delete", json={"namespace": ns, "ids": ["a"]}).status_code == 200


@pytest.mark.parametrize(
    ("mode", "fresh", "emptied"),
    [
        ("empty", ALL_OK, ALL_OK),
        ("never_created", {**ALL_OK, **EVIDENCED}, ALL_OK),
        ("not_found", dict.fromkeys(ALL_OK, 404), dict.fromkeys(ALL_OK, 404)),
    ],
)
def test_each_mode_on_a_fresh_and_an_emptied_namespace(
    start_emulator: StartEmulator, mode: str, fresh: dict[str, int], emptied: dict[str, int]
) -> None:
    emulator = start_emulator(indexes=(("idx", 4),), missing_namespace=mode)
    with http(emulator) as c:
        assert _statuses(c, "ghost") == fresh
        _emptied(c, "was-full")
        assert _statuses(c, "was-full") == emptied


def test_a_created_namespace_exists_and_a_dropped_one_is_fresh_again(
    start_emulator: StartEmulator,
) -> None:
    """`POST /namespaces` makes a namespace exist without records; `DELETE /namespaces/{ns}`
    forgets it, so it answers as one never created."""
    emulator = start_emulator(indexes=(("idx", 4),), missing_namespace="never_created")
    with http(emulator) as c:
        assert c.post("/namespaces", json={"name": "made"}).status_code == 200
        assert _statuses(c, "made") == ALL_OK
        _emptied(c, "gone")
        assert c.delete("/namespaces/gone").status_code == 404  # emptied: no namespace to list
        assert c.delete("/namespaces/made").status_code == 200
        assert _statuses(c, "made") == {**ALL_OK, **EVIDENCED}


def test_an_emptied_namespace_stays_known_across_a_restart(tmp_path: Path) -> None:
    config = EmulatorConfig(
        limits="off", indexes=(("idx", 4),), data_dir=tmp_path, missing_namespace="never_created"
    )
    with Emulator.start(config) as first, http(first) as c:
        _emptied(c, "was-full")
        c.post(
            "/vectors/upsert",
            json={"namespace": "kept", "vectors": [{"id": "k", "values": vec(1)}]},
        )
    with Emulator.start(config) as second, http(second) as c:
        assert _statuses(c, "was-full") == ALL_OK
        assert _statuses(c, "kept") == ALL_OK
        assert _statuses(c, "ghost") == {**ALL_OK, **EVIDENCED}


def test_the_sdk_sees_what_its_own_suite_expects(start_emulator: StartEmulator) -> None:
    """Fresh namespace: NotFoundError; established, then its last record deleted twice: None."""
    emulator = start_emulator(indexes=(("idx", 4),), missing_namespace="never_created")
    index: Any = sdk_index(emulator)
    with pytest.raises(NotFoundError):
        index.delete(ids=["never-existed-x"], namespace="fresh")
    index.upsert(vectors=[{"id": "dn-v1", "values": vec(1)}], namespace="fresh")
    assert index.delete(ids=["never-existed-x", "never-existed-y"], namespace="fresh") is None
    assert index.delete(ids=["dn-v1"], namespace="fresh") is None
    assert index.delete(ids=["dn-v1"], namespace="fresh") is None
    assert index.fetch(ids=["dn-v1"], namespace="fresh").vectors == {}


@pytest.mark.parametrize("mode", ["empty", "never_created", "not_found"])
def test_the_flag_takes_each_mode(mode: str) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert config_from(parser.parse_args(["--missing-namespace", mode])).missing_namespace == mode


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="missing_namespace must be"):
        EmulatorConfig(missing_namespace="maybe")  # type: ignore[arg-type]
