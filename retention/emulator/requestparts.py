"""Pieces every data-plane route shares: namespaces, filters, pagination tokens, LSN headers."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from retention.emulator.filtering import compile_request_filter
from retention.emulator.handling import Call
from retention.emulator.refusals import ApiError, bad_request
from retention.emulator.store import IndexState, Namespace, Predicate
from retention.identifiers import DEFAULT_NAMESPACE

NAMESPACE_NOT_FOUND = "Namespace not found"


def namespace_name(call: Call) -> str:
    """The namespace named in the body (POST) or query (GET), as the client spelled it."""
    raw = call.pick("namespace") if call.body else call.query("namespace")
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise bad_request("namespace must be a string")
    if len(raw) > 512 or "\0" in raw or not raw.isascii():
        raise bad_request("namespace must be at most 512 ASCII characters without NUL")
    return raw


def subject(name: str) -> str:
    """How a namespace is named in messages: the default one is `__default__`."""
    return name or DEFAULT_NAMESPACE


def existing(call: Call, state: IndexState, name: str, *, evidenced: bool = True) -> Namespace:
    """The namespace, or 404 `Namespace not found` where `--missing-namespace` says so.

    `empty` (the default): never 404. `not_found`: 404 whenever the namespace holds no record
    and was not created with `POST /namespaces`, on every read and delete that calls this.
    `never_created` follows the evidence: 404 only for a namespace that never held a record
    nor was created (or was dropped by `DELETE /namespaces/{ns}`); one that was emptied by
    deletes answers success. The official SDK's own integration suite (pinecone-io/
    pinecone-python-client, `tests/integration/test_data_plane.py`,
    `test_delete_nonexistent_ids_returns_none_rest`, 2026-04) says a delete in a "fresh
    namespace raises 404", upserts a record first to establish it, and deletes the last
    record twice without error; its fetch test establishes the namespace the same way.
    Third-party fixtures record `404 {"code":5,"message":"Namespace not found"}` for delete,
    fetch and query (FACTS §3). So in `never_created` the evidenced operations are deletes
    (by IDs, filter or deleteAll), fetch and query; `list` and `fetch_by_metadata`, for which
    there is none, pass `evidenced=False` and answer empty. Updates never 404 (a missing ID is
    a 200 that changes nothing, FACTS §4).
    """
    ns = state.namespace(name)
    mode = call.runtime.config.missing_namespace
    if ns.exists or mode == "empty":
        return ns
    if mode == "not_found" or (evidenced and not ns.known):
        raise ApiError(404, NAMESPACE_NOT_FOUND)
    return ns


def predicate(call: Call, raw: object, empty_message: str) -> Predicate:
    """A request's filter as a predicate; Pinecone's 400 for an empty or invalid one."""
    if isinstance(raw, dict) and not raw:
        raise bad_request(empty_message)
    with_not = call.at_least("2026-07") or not call.runtime.config.version_gates
    return compile_request_filter(raw, call.runtime.config.readings, with_not=with_not)


def encode_token(payload: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode()


def decode_token(token: str) -> dict[str, Any]:
    try:
        payload = json.loads(base64.b64decode(token.encode(), validate=True))
    except (binascii.Error, ValueError) as exc:
        raise bad_request("Invalid pagination token") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("skip_past"), str):
        raise bad_request("Invalid pagination token")
    return payload


def offset_token(token: str | None) -> int:
    """Where a page of a numbered listing (backups, restore jobs) starts: 0, or the token's."""
    if not token:
        return 0
    skip = decode_token(token)["skip_past"]
    if not skip.isdigit():
        raise bad_request("Invalid pagination token")
    return int(skip)


def int_param(raw: object, name: str, *, default: int, low: int, high: int | None) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(str(raw)) if not isinstance(raw, int) else raw
    except ValueError as exc:
        raise bad_request(f"{name} must be an integer, got {raw!r}") from exc
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise bad_request(f"{name} must be {bound}, got {value}")
    return value


def write_headers(lsn: int) -> dict[str, str]:
    return {"x-pinecone-request-lsn": str(lsn)}


def read_headers(call: Call, ns: Namespace, *, query: bool = False) -> dict[str, str]:
    """The freshness header of a read, where `--lsn-headers` says reads carry one."""
    which = call.runtime.config.lsn_headers
    if which == "none" or (which == "query" and not query):
        return {}
    return {"x-pinecone-max-indexed-lsn": str(ns.indexed_lsn)}


def usage(read_units: int = 1) -> dict[str, int]:
    return {"readUnits": read_units}
