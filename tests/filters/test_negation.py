"""Property tests of `negate` and `exclude`: folding protections into a delete never deletes them."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retention.filters import (
    DEFAULT_SEMANTICS,
    And,
    Compare,
    Filter,
    Metadata,
    Or,
    Semantics,
    compile_filter,
    exclude,
    negate,
    parse_filter,
    to_json,
)


def matches(f: Filter, record: Metadata, sem: Semantics = DEFAULT_SEMANTICS) -> bool:
    return compile_filter(f, sem)(record)


FIELDS = ("a", "b", "c")
STRINGS = ("x", "y", "z")
NUMBERS = (-1, 0, 1, 2, 2.0, 2.5)
# Every combination of the undocumented corners.
ALL_SEMANTICS = tuple(
    Semantics(ne_matches_missing=ne, nin_matches_missing=nin, list_negation=lists)
    for ne in (False, True)
    for nin in (True, False)
    for lists in ("none_equal", "any_differs")
)
SCALAR_LIST_SEMANTICS = tuple(s for s in ALL_SEMANTICS if s.list_negation == "none_equal")

strings = st.sampled_from(STRINGS)
numbers = st.sampled_from(NUMBERS)
field_names = st.sampled_from(FIELDS)
scalars = st.one_of(strings, numbers, st.booleans())
members = st.lists(st.one_of(strings, numbers), min_size=1, max_size=3).map(tuple)


def compares(name: st.SearchStrategy[str] = field_names) -> st.SearchStrategy[Compare]:
    """Single comparisons with every operator, over a few fields and values."""
    return st.one_of(
        st.builds(Compare, name, st.sampled_from(("$eq", "$ne")), scalars),
        st.builds(Compare, name, st.sampled_from(("$gt", "$gte", "$lt", "$lte")), numbers),
        st.builds(Compare, name, st.sampled_from(("$in", "$nin")), members),
        st.builds(Compare, name, st.just("$exists"), st.booleans()),
    )


def filters(depth: int = 3) -> st.SearchStrategy[Filter]:
    """Valid protection filters: comparisons under `$and`/`$or` nested up to `depth` levels."""
    leaf = compares()
    if depth == 0:
        return leaf
    children = st.lists(filters(depth - 1), min_size=2, max_size=3).map(tuple)
    return st.one_of(leaf, children.map(And), children.map(Or))


values = st.one_of(scalars, st.lists(strings, max_size=3))
records = st.fixed_dictionaries({}, optional=dict.fromkeys(FIELDS, values))
record_lists = st.lists(records, min_size=1, max_size=12)

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def scalar_in(record: Metadata, names: frozenset[str]) -> bool:
    """The documented precondition: none of `names` holds a list in this record."""
    return not any(isinstance(record.get(name), list) for name in names)


@SETTINGS
@given(filters(), record_lists)
def test_negation_never_matches_what_it_negates(p: Filter, recs: list[Metadata]) -> None:
    """Under every semantics, NOT p matches no record p matches, where string_fields are scalar."""
    negation = negate(p)
    for record in recs:
        if not scalar_in(record, negation.string_fields):
            continue
        for sem in ALL_SEMANTICS:
            assert not (matches(p, record, sem) and matches(negation.filter, record, sem)), (
                sem,
                record,
                to_json(negation.filter),
            )


@SETTINGS
@given(filters(), record_lists)
def test_negation_is_exact_when_it_says_so(p: Filter, recs: list[Metadata]) -> None:
    """An exact negation matches exactly the records p does not (string_fields scalar)."""
    negation = negate(p)
    if not negation.exact:
        return
    for record in recs:
        if not scalar_in(record, negation.string_fields):
            continue
        assert matches(negation.filter, record) is not matches(p, record), record
        # Exactness does not lean on what `$nin` does with a missing field either.
        for sem in SCALAR_LIST_SEMANTICS:
            assert matches(negation.filter, record, sem) is not matches(p, record, sem)


numeric_records = st.fixed_dictionaries(dict.fromkeys(FIELDS, numbers))


@SETTINGS
@given(filters(), st.lists(numeric_records, min_size=1, max_size=12))
def test_inexact_negation_spares_only_non_numbers(p: Filter, recs: list[Metadata]) -> None:
    """Even an inexact negation is exact on records holding a number in every field."""
    negation = negate(p)
    for record in recs:
        assert matches(negation.filter, record) is not matches(p, record), record


@SETTINGS
@given(filters())
def test_negation_is_a_valid_pinecone_filter(p: Filter) -> None:
    """NOT p is written in Pinecone's own language: its JSON parses back to the same filter."""
    negation = negate(p).filter
    assert parse_filter(to_json(negation)) == negation


@SETTINGS
@given(filters(2), st.lists(filters(2), max_size=3), record_lists)
def test_exclude_spares_every_protection(
    rule: Filter, protections: list[Filter], recs: list[Metadata]
) -> None:
    """The folded delete filter matches only rule records that no protection matches."""
    folded = exclude(rule, protections)
    assert folded.filter is not None
    for record in recs:
        if not scalar_in(record, folded.string_fields):
            continue
        for sem in ALL_SEMANTICS:
            if matches(folded.filter, record, sem):
                assert matches(rule, record, sem), (sem, record)
                assert not any(matches(p, record, sem) for p in protections), (sem, record)
        if folded.exact:
            expected = matches(rule, record) and not any(matches(p, record) for p in protections)
            assert matches(folded.filter, record) is expected, record


def test_exclude_without_rule_or_protections() -> None:
    """No rule and no protections fold to no condition; no rule with one is NOT p alone."""
    assert exclude(None, []).filter is None
    p = Compare("a", "$exists", True)
    assert exclude(None, [p]).filter == Compare("a", "$exists", False)


LIST_RECORD = {"genre": ["comedy", "documentary"]}
ANY_DIFFERS = Semantics(list_negation="any_differs")
NONE_EQUAL = Semantics(list_negation="none_equal")


def test_precondition_matters_for_eq() -> None:
    """Why string_fields exists: with `$ne` meaning "some element differs", NOT p hits a list p matches."""
    protect = Compare("genre", "$eq", "comedy")
    negation = negate(protect)
    assert negation.string_fields == {"genre"}
    assert matches(protect, LIST_RECORD, ANY_DIFFERS)
    # "documentary" differs from "comedy", so `$ne` matches: the protected record would be deleted.
    assert matches(negation.filter, LIST_RECORD, ANY_DIFFERS)
    # Under the other reading the negation is safe; the planner must find out which one holds.
    assert not matches(negation.filter, LIST_RECORD, NONE_EQUAL)


def test_precondition_matters_for_nin_and_exclude() -> None:
    """A `$nin` protection and a folded delete break the same way on a list field."""
    protect = Compare("genre", "$nin", ("comedy",))
    negation = negate(protect)
    assert negation.string_fields == {"genre"}
    assert matches(protect, LIST_RECORD, ANY_DIFFERS)
    assert matches(negation.filter, LIST_RECORD, ANY_DIFFERS)

    rule = Compare("year", "$lt", 2020)
    record = {**LIST_RECORD, "year": 2019}
    folded = exclude(rule, [Compare("genre", "$eq", "comedy")])
    assert folded.string_fields == {"genre"}
    assert matches(folded.filter, record, ANY_DIFFERS)  # deletes a protected comedy
    assert not matches(folded.filter, record, NONE_EQUAL)


def test_numeric_comparisons_need_no_precondition() -> None:
    """Protections compared only with numbers report no string_fields and stay safe on lists."""
    protect = Or((Compare("genre", "$eq", 1), Compare("genre", "$nin", (2, 3))))
    negation = negate(protect)
    assert negation.string_fields == frozenset()
    for sem in ALL_SEMANTICS:
        for record in (LIST_RECORD, {"genre": []}, {}):
            assert not (matches(protect, record, sem) and matches(negation.filter, record, sem))


def test_default_semantics_is_one_of_the_variants() -> None:
    """The properties above cover the default semantics."""
    assert DEFAULT_SEMANTICS in ALL_SEMANTICS
