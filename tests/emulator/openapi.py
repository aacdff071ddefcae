"""Validate emulator responses against Pinecone's OpenAPI files in ../shared, when present."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

SHARED_OPENAPI = Path(__file__).resolve().parents[3] / "shared" / "pinecone" / "openapi"

needs_specs = pytest.mark.skipif(
    not SHARED_OPENAPI.is_dir(),
    reason="Pinecone's OpenAPI files are not in ../shared (a clone without it cannot validate)",
)
"""For tests that validate against the OpenAPI files, which are never copied into the repo."""


@cache
def _registry(plane: str, version: str) -> Registry:
    path = SHARED_OPENAPI / f"db_{plane}_{version}.oas.yaml"
    assert path.is_file(), f"{path.name} is missing from {SHARED_OPENAPI}"
    spec = yaml.safe_load(path.read_text())
    return Registry().with_resource("urn:spec", Resource.from_contents(spec, DRAFT7))


def check(plane: str, version: str, path: str, method: str, status: int, body: Any) -> None:
    """Fail unless `body` matches the spec's response schema for this operation and status."""
    registry = _registry(plane, version)
    pointer = "/".join(
        p.replace("~", "~0").replace("/", "~1")
        for p in ("paths", path, method, "responses", str(status), "content", "application/json")
    )
    schema = {"$ref": f"urn:spec#/{pointer}/schema"}
    errors = list(Draft7Validator(schema, registry=registry).iter_errors(body))
    assert not errors, f"{method.upper()} {path} {status} does not match the spec: {errors[0]}"
