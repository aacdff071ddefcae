"""The Pinecone client as a command builds it: from the environment, with --retry-for."""

from __future__ import annotations

import math
import os
from typing import Any

from retention import logs, pinecone
from retention.errors import RetentionError
from retention.pinecone import PineconeClient
from retention.pinecone.projects import read_key_file
from retention.pinecone.retrying import RetryPolicy


def retry_policy(retry_for: float) -> RetryPolicy:
    """The client's retry policy from --retry-for (one line for a bad value)."""
    if not (math.isfinite(retry_for) and retry_for > 0):
        raise RetentionError(
            f"--retry-for must be a positive number of seconds, got: {retry_for:g}"
        )
    return RetryPolicy(outage=retry_for)


def client_from_env(**options: Any) -> PineconeClient:
    """The Pinecone client from the environment; a bad key or host is one line, before any
    request. `options` go to `connect` (transport, log, retry, ...)."""
    environ = dict(os.environ)
    key = environ.get("PINECONE_API_KEY", "")
    if not key and environ.get("PINECONE_API_KEY_FILE"):
        key = environ["PINECONE_API_KEY"] = read_key_file(
            environ["PINECONE_API_KEY_FILE"], "PINECONE_API_KEY_FILE"
        )
    if not key:
        raise RetentionError(
            "PINECONE_API_KEY is not set (nor PINECONE_API_KEY_FILE); export the API key of "
            "the Pinecone project (any value for the emulator)"
        )
    logs.hide(key)
    try:
        return pinecone.connect(environ=environ, **options)
    except ValueError as exc:
        raise RetentionError(str(exc)) from None
