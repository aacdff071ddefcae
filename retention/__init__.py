"""retention: data retention for Pinecone vector indexes, done the GitOps way."""

from __future__ import annotations

__version__ = "0.1.0"
