"""What a document index's schema allows the policies that target it to filter on.

A document index's schema declares its data fields: the dense and sparse vectors and the
searchable (`full_text_search`) strings. Every other field of a document is metadata, indexed
when it is written. Metadata filters compare metadata only: Pinecone refuses a comparison on a
data field (docs/pinecone-documents-api.md §5). So a TTL field, a `where` or a protection that
names one can never select or protect anything; the plan refuses it at the policy's line, rather
than sending filters Pinecone would refuse namespace after namespace.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from retention.errors import Location, PolicyError, PolicyErrors
from retention.filters import Filter, fields_of
from retention.planning.inventory import VECTOR_INDEX, IndexKind
from retention.policy.model import PolicySet, Rule


def check_fields(policies: PolicySet, kinds: Mapping[str, IndexKind]) -> None:
    """Raise `PolicyErrors` for every rule, protection and hold that names a data field of the
    document index it targets."""
    problems: list[PolicyError] = []
    for policy in policies.policies:
        data = kinds.get(policy.index, VECTOR_INDEX).data_fields
        if not data:
            continue
        for rule in policy.rules:
            problems.extend(_named(policy.index, data, rule.location, _rule_fields(rule), "rule"))
        problems.extend(
            _named(policy.index, data, policy.location, _all_fields(policy.protect), "protection")
        )
    for hold in policies.holds:
        data = kinds.get(hold.index, VECTOR_INDEX).data_fields
        problems.extend(_named(hold.index, data, hold.location, _all_fields(hold.protect), "hold"))
    if problems:
        raise PolicyErrors(problems)


def _rule_fields(rule: Rule) -> set[str]:
    named = set(fields_of(rule.where)) if rule.where is not None else set()
    if rule.ttl is not None:
        named.add(rule.ttl.field)
    return named


def _all_fields(filters: Iterable[Filter]) -> set[str]:
    return {name for f in filters for name in fields_of(f)}


def _named(
    index: str, data: Mapping[str, str], location: Location, named: set[str], what: str
) -> Iterator[PolicyError]:
    for name in sorted(named & data.keys()):
        yield PolicyError(
            location,
            f"this {what} filters on '{name}', a {data[name]} field of document index "
            f"'{index}''s schema; filters compare metadata fields only (those the schema does "
            "not declare), so Pinecone refuses it: use a metadata field",
        )
