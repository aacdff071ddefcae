"""Unknown paths and methods answer in the plane's JSON error shape, never plain text."""

from __future__ import annotations

import pytest
from pinecone.errors import NotFoundError

from retention.emulator import Emulator
from tests.emulator.conftest import http, sdk


def test_an_unknown_data_plane_path_is_a_json_404(emu: Emulator) -> None:
    with http(emu) as c:
        for r in (
            c.post("/vectors/nope", json={}),
            c.post("/vectors/delete/", json={"ids": ["a"]}),
        ):
            assert r.status_code == 404
            assert r.headers["content-type"] == "application/json"
            assert r.json() == {"code": 5, "message": "Not Found", "details": []}
            assert r.headers["x-pinecone-request-id"]


def test_an_unknown_control_plane_path_is_a_json_404(emu: Emulator) -> None:
    with http(emu, name=None) as c:
        for r in (c.get("/collectionz"), c.get("/indexes/"), c.get("/")):
            assert r.status_code == 404
            assert r.json() == {
                "error": {"code": "NOT_FOUND", "message": "Not Found"},
                "status": 404,
            }


def test_a_wrong_method_is_a_json_405_with_allow(emu: Emulator) -> None:
    """405 lists every method of the path in `Allow`, in each plane's shape."""
    with http(emu) as data:
        r = data.put("/vectors/upsert", json={})
        assert r.status_code == 405 and r.headers["allow"] == "POST"
        assert r.json() == {"code": 12, "message": "Method Not Allowed", "details": []}
        r = data.post("/namespaces/ns", json={})
        assert r.status_code == 405
        assert set(r.headers["allow"].split(", ")) == {"GET", "HEAD", "DELETE"}
    with http(emu, name=None) as control:
        r = control.put("/indexes", json={})
        assert r.status_code == 405
        assert set(r.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}
        assert r.json() == {
            "error": {"code": "UNIMPLEMENTED", "message": "Method Not Allowed"},
            "status": 405,
        }
        r = control.post("/indexes/idx", json={})
        assert set(r.headers["allow"].split(", ")) == {"GET", "HEAD", "PATCH", "DELETE"}


def test_every_method_of_a_path_still_reaches_its_route(emu: Emulator) -> None:
    """Grouping a path's methods into one route keeps each method on its own handler."""
    with http(emu, name=None) as c:
        assert c.get("/indexes/idx").json()["name"] == "idx"
        assert c.patch("/indexes/idx", json={"tags": {"a": "b"}}).status_code == 202
        assert c.head("/indexes/idx").status_code == 200
        assert c.delete("/indexes/idx").status_code == 202
        assert c.get("/indexes/idx").status_code == 404


def test_the_sdk_reads_the_json_404_of_a_route_the_emulator_lacks(emu: Emulator) -> None:
    """SDK 10's collections call hits `/collections`, which the emulator does not serve: the
    SDK raises its typed NotFoundError with the message from the JSON body."""
    with pytest.raises(NotFoundError) as info:
        sdk(emu).collections.list()
    assert info.value.status_code == 404
    assert "Not Found" in str(info.value)
