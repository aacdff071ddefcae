"""The v1 policy language: model, loading with positions, schema and semantic checks."""

from __future__ import annotations

from retention.policy.loading import API_VERSIONS, load_policies, policy_files
from retention.policy.model import (
    DEFAULT_NAMESPACE,
    Guards,
    IdsFile,
    LegalHold,
    NamespaceSelector,
    Policy,
    PolicySet,
    Rule,
    Ttl,
    canonical_namespace,
)

__all__ = [
    "API_VERSIONS",
    "DEFAULT_NAMESPACE",
    "Guards",
    "IdsFile",
    "LegalHold",
    "NamespaceSelector",
    "Policy",
    "PolicySet",
    "Rule",
    "Ttl",
    "canonical_namespace",
    "load_policies",
    "policy_files",
]
