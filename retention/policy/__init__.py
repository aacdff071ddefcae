"""The v1 policy language: model, loading with positions, schema and semantic checks."""

from __future__ import annotations

from retention.policy.loading import API_VERSIONS, load_policies, policy_files
from retention.policy.model import (
    Guards,
    IdsFile,
    LegalHold,
    NamespaceSelector,
    Policy,
    PolicySet,
    Rule,
    Ttl,
)

__all__ = [
    "API_VERSIONS",
    "Guards",
    "IdsFile",
    "LegalHold",
    "NamespaceSelector",
    "Policy",
    "PolicySet",
    "Rule",
    "Ttl",
    "load_policies",
    "policy_files",
]
