"""The client's filter language and the emulator's evaluator, written apart, agree.

`retention.filters` (what policies say and how the planner reasons) and
`retention.emulator.filtering` (how the emulator answers in Pinecone's place) share no code.
Where they disagree, one of them misreads Pinecone; these properties find such a case under
every reading of the undocumented corners.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retention.emulator.filtering import compile_request_filter
from retention.emulator.refusals import ApiError
from retention.filters import SEMANTICS_VARIANTS, FilterError, compile_filter, parse_filter
from tests.readings import readings_of

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

FIELDS = ("a", "b", "c")
STRINGS = ("x", "y", "")
NUMBERS = (-1, 0, 1, 2.0, 2.5, 10**20)

strings = st.sampled_from(STRINGS)
numbers = st.sampled_from(NUMBERS)
scalars = st.one_of(strings, numbers, st.booleans())
field_names = st.sampled_from(FIELDS)


def conditions() -> st.SearchStrategy[object]:
    """What may stand under a field: a value, or a mapping of operators to arguments."""
    operator = st.one_of(
        st.tuples(st.sampled_from(("$eq", "$ne")), scalars),
        st.tuples(st.sampled_from(("$gt", "$gte", "$lt", "$lte")), numbers),
        st.tuples(
            st.sampled_from(("$in", "$nin")),
            st.lists(st.one_of(strings, numbers), min_size=1, max_size=3),
        ),
        st.tuples(st.just("$exists"), st.booleans()),
    )
    ops = st.lists(operator, min_size=1, max_size=2, unique_by=lambda o: o[0]).map(dict)
    return st.one_of(scalars, ops)


def filters(depth: int = 2) -> st.SearchStrategy[dict[str, object]]:
    """Filters a policy may write: fields and `$and`/`$or`, nested up to `depth` levels."""
    by_field = st.dictionaries(field_names, conditions(), min_size=1, max_size=2)
    if depth == 0:
        return by_field
    logical = st.tuples(
        st.sampled_from(("$and", "$or")), st.lists(filters(depth - 1), min_size=1, max_size=3)
    ).map(lambda pair: {pair[0]: pair[1]})
    return st.one_of(by_field, logical)


values = st.one_of(scalars, st.lists(strings, max_size=3))
records = st.dictionaries(field_names, values, max_size=3)


@SETTINGS
@given(filters(), st.lists(records, min_size=1, max_size=8))
def test_both_evaluators_match_the_same_records(raw: dict[str, object], recs: list[Any]) -> None:
    """A filter a policy may write matches the same records in the client and the emulator,
    under every reading of `$ne`/`$nin` on missing fields and on lists."""
    parsed = parse_filter(raw)
    for semantics in SEMANTICS_VARIANTS:
        client = compile_filter(parsed, semantics)
        server = compile_request_filter(raw, readings_of(semantics), with_not=False)
        for record in recs:
            assert client(record) is server(record), (semantics, record)


# Inputs either side may refuse: the shapes users get wrong.
junk = st.one_of(
    st.none(),
    st.lists(scalars, max_size=2),
    st.dictionaries(st.sampled_from(("eq", "$eq", "$regex", "$not", "$and")), scalars, max_size=2),
    st.dictionaries(
        st.sampled_from(("$in", "$nin")),
        st.lists(st.one_of(scalars, st.none()), max_size=2),
        min_size=1,
    ),
    st.dictionaries(st.sampled_from(("$gt", "$exists")), st.one_of(scalars, st.none()), min_size=1),
)
anything = st.recursive(
    st.dictionaries(st.one_of(field_names, st.sampled_from(("$gt", "$or"))), junk, max_size=2),
    lambda inner: st.dictionaries(
        st.sampled_from(("$and", "$or", "a")), st.lists(inner, max_size=2), max_size=2
    ),
    max_leaves=4,
)


@SETTINGS
@given(anything)
def test_the_client_accepts_only_what_the_emulator_takes(raw: object) -> None:
    """What the client's parser lets a policy say, the server takes; what the server refuses,
    the client refused first, with its own advice."""
    try:
        parse_filter(raw)
    except FilterError:
        return
    for semantics in SEMANTICS_VARIANTS:
        compile_request_filter(raw, readings_of(semantics), with_not=False)


@pytest.mark.parametrize(
    "raw",
    [
        {"a": {"$not": {"$eq": "x"}}},
        {"a": {"$in": []}},
        {"a": {"$nin": []}},
    ],
    ids=["not", "empty-in", "empty-nin"],
)
def test_what_only_the_server_takes(raw: dict[str, object]) -> None:
    """Pinecone takes these (`$not` from 2026-07) and a policy may not say them: the two
    parsers differ here on purpose."""
    with pytest.raises(FilterError):
        parse_filter(raw)
    compile_request_filter(raw, readings_of(SEMANTICS_VARIANTS[0]), with_not=True)


def test_not_needs_api_2026_07() -> None:
    """Before 2026-07, `$not` is an unsupported operator, in Pinecone's words."""
    with pytest.raises(ApiError) as refused:
        compile_request_filter(
            {"a": {"$not": {"$eq": "x"}}}, readings_of(SEMANTICS_VARIANTS[0]), with_not=False
        )
    assert refused.value.message == "illegal condition for field a: unsupported operator"
