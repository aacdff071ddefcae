"""`retention_pinecone_requests_total` names each request by its operation, on both APIs."""

from __future__ import annotations

import httpx
import pytest

from retention.service.metrics import operation_of

HOST = "https://docs-abc.svc.aped-4627-b74a.pinecone.io"


@pytest.mark.parametrize(
    ("method", "path", "operation"),
    [
        ("POST", "/vectors/delete", "delete"),
        ("POST", "/vectors/update", "update"),
        ("POST", "/vectors/fetch_by_metadata", "fetch_by_metadata"),
        ("GET", "/vectors/fetch", "fetch"),
        ("POST", "/namespaces/tenant-a/documents/delete", "documents_delete"),
        ("POST", "/namespaces/fetch/documents/fetch", "documents_fetch"),
        ("POST", "/namespaces/a%2Fb/documents/list", "documents_list"),
        ("GET", "/namespaces/tenant-a", "namespaces"),
        ("DELETE", "/namespaces/documents", "namespaces"),
        ("GET", "/indexes/docs", "control"),
    ],
)
def test_each_route_has_its_operation(method: str, path: str, operation: str) -> None:
    assert operation_of(httpx.Request(method, HOST + path)) == operation
