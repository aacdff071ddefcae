"""Table-driven tests of both filter evaluators against Pinecone's documented behaviour (FACTS.md §1).

The client's (`retention.filters`) and the emulator's (`retention.emulator.filtering`) are
written apart; each row must hold for both.
"""

from __future__ import annotations

import pytest

from retention.emulator.filtering import compile_request_filter
from retention.filters import (
    DEFAULT_SEMANTICS,
    FilterError,
    Semantics,
    compile_filter,
    parse_filter,
)
from tests.readings import readings_of

NIN_MISSING = Semantics(nin_matches_missing=True)
NIN_NOT_MISSING = Semantics(nin_matches_missing=False)
NONE_EQUAL = Semantics(list_negation="none_equal")
ANY_DIFFERS = Semantics(list_negation="any_differs")

GENRES = {"genre": ["comedy", "documentary"]}
BOTH = {"$and": [{"genre": "comedy"}, {"genre": "documentary"}]}
WITH_DRAMA = {"$and": [{"genre": "comedy"}, {"genre": "drama"}]}


def case(
    name: str, flt: object, meta: dict[str, object], expected: bool, sem: Semantics | None = None
) -> object:
    """One row of the table: filter JSON, record metadata, expected match, optional semantics."""
    return pytest.param(flt, meta, expected, sem, id=name)


CASES = [
    # $eq, explicit and shorthand
    case("eq-string", {"genre": {"$eq": "drama"}}, {"genre": "drama"}, True),
    case("eq-string-other", {"genre": {"$eq": "drama"}}, {"genre": "comedy"}, False),
    case("eq-string-case-sensitive", {"genre": {"$eq": "drama"}}, {"genre": "Drama"}, False),
    case("eq-number", {"year": {"$eq": 2020}}, {"year": 2020}, True),
    case("eq-number-other", {"year": {"$eq": 2020}}, {"year": 2021}, False),
    case("eq-bool-true", {"flag": {"$eq": True}}, {"flag": True}, True),
    case("eq-bool-false", {"flag": {"$eq": False}}, {"flag": False}, True),
    case("eq-bool-mismatch", {"flag": {"$eq": True}}, {"flag": False}, False),
    case("eq-missing", {"genre": {"$eq": "drama"}}, {}, False),
    case("eq-missing-other-field", {"genre": {"$eq": "drama"}}, {"year": 2020}, False),
    case("shorthand-string", {"genre": "drama"}, {"genre": "drama"}, True),
    case("shorthand-string-other", {"genre": "drama"}, {"genre": "comedy"}, False),
    case("shorthand-number", {"year": 2020}, {"year": 2020}, True),
    case("shorthand-bool", {"flag": True}, {"flag": True}, True),
    case("shorthand-missing", {"genre": "drama"}, {"year": 1}, False),
    case(
        "shorthand-two-fields",
        {"genre": "drama", "year": 2020},
        {"genre": "drama", "year": 2020},
        True,
    ),
    case(
        "shorthand-two-fields-one-off",
        {"genre": "drama", "year": 2020},
        {"genre": "drama", "year": 2019},
        False,
    ),
    # booleans are not numbers
    case("bool-filter-vs-one", {"flag": True}, {"flag": 1}, False),
    case("one-filter-vs-true", {"flag": 1}, {"flag": True}, False),
    case("zero-filter-vs-false", {"flag": 0}, {"flag": False}, False),
    case("false-filter-vs-zero", {"flag": False}, {"flag": 0}, False),
    case("one-float-filter-vs-true", {"flag": 1.0}, {"flag": True}, False),
    case("ne-bool-vs-one", {"flag": {"$ne": True}}, {"flag": 1}, True),
    case("in-number-vs-true", {"flag": {"$in": [1]}}, {"flag": True}, False),
    # integers stored as floats
    case("int-filter-vs-float", {"year": 2}, {"year": 2.0}, True),
    case("float-filter-vs-int", {"year": 2.0}, {"year": 2}, True),
    case("gte-int-vs-float", {"year": {"$gte": 2}}, {"year": 2.0}, True),
    case("lte-float-vs-int", {"year": {"$lte": 2.0}}, {"year": 2}, True),
    case("in-int-vs-float", {"year": {"$in": [1, 2]}}, {"year": 2.0}, True),
    case("ne-int-vs-float", {"year": {"$ne": 2}}, {"year": 2.0}, False),
    case("nin-int-vs-float", {"year": {"$nin": [2]}}, {"year": 2.0}, False),
    case("eq-fraction", {"score": 0.5}, {"score": 0.5}, True),
    # strings are not numbers
    case("string-filter-vs-number", {"year": "5"}, {"year": 5}, False),
    case("number-filter-vs-string", {"year": 5}, {"year": "5"}, False),
    case("in-string-vs-number", {"year": {"$in": ["5"]}}, {"year": 5}, False),
    case("in-number-vs-string", {"year": {"$in": [5]}}, {"year": "5"}, False),
    case("ne-string-vs-number", {"year": {"$ne": "5"}}, {"year": 5}, True),
    # $ne
    case("ne-differs", {"genre": {"$ne": "drama"}}, {"genre": "comedy"}, True),
    case("ne-equal", {"genre": {"$ne": "drama"}}, {"genre": "drama"}, False),
    case("ne-number", {"year": {"$ne": 2020}}, {"year": 2021}, True),
    case("ne-missing", {"genre": {"$ne": "drama"}}, {}, False),
    case("ne-missing-other-field", {"genre": {"$ne": "drama"}}, {"year": 2020}, False),
    case(
        "ne-missing-old-server",
        {"genre": {"$ne": "drama"}},
        {},
        True,
        Semantics(ne_matches_missing=True),
    ),
    # range operators
    case("gt-above", {"year": {"$gt": 2000}}, {"year": 2001}, True),
    case("gt-equal", {"year": {"$gt": 2000}}, {"year": 2000}, False),
    case("gte-equal", {"year": {"$gte": 2000}}, {"year": 2000}, True),
    case("gte-below", {"year": {"$gte": 2000}}, {"year": 1999}, False),
    case("lt-below", {"year": {"$lt": 2000}}, {"year": 1999}, True),
    case("lt-equal", {"year": {"$lt": 2000}}, {"year": 2000}, False),
    case("lte-equal", {"year": {"$lte": 2000}}, {"year": 2000}, True),
    case("lte-above", {"year": {"$lte": 2000}}, {"year": 2001}, False),
    case("gt-fraction", {"score": {"$gt": 0.5}}, {"score": 0.75}, True),
    case("lt-negative", {"score": {"$lt": 0}}, {"score": -1}, True),
    case("gt-missing", {"year": {"$gt": 2000}}, {}, False),
    case("gte-missing", {"year": {"$gte": 2000}}, {}, False),
    case("lt-missing", {"year": {"$lt": 2000}}, {}, False),
    case("lte-missing", {"year": {"$lte": 2000}}, {}, False),
    case("gt-string", {"year": {"$gt": 2000}}, {"year": "3000"}, False),
    case("lt-string", {"year": {"$lt": 2000}}, {"year": "1000"}, False),
    case("gte-true", {"flag": {"$gte": 0}}, {"flag": True}, False),
    case("lte-false", {"flag": {"$lte": 1}}, {"flag": False}, False),
    case("gt-list", {"genre": {"$gt": 0}}, GENRES, False),
    case("lt-empty-list", {"genre": {"$lt": 1}}, {"genre": []}, False),
    # several operators on one field are ANDed
    case("range-inside", {"year": {"$gte": 2000, "$lte": 2010}}, {"year": 2005}, True),
    case("range-low-edge", {"year": {"$gte": 2000, "$lte": 2010}}, {"year": 2000}, True),
    case("range-below", {"year": {"$gte": 2000, "$lte": 2010}}, {"year": 1999}, False),
    case("range-above", {"year": {"$gte": 2000, "$lte": 2010}}, {"year": 2011}, False),
    case("exists-and-ne", {"genre": {"$exists": True, "$ne": "drama"}}, {"genre": "comedy"}, True),
    case(
        "exists-and-ne-equal",
        {"genre": {"$exists": True, "$ne": "drama"}},
        {"genre": "drama"},
        False,
    ),
    # $in and $nin
    case("in-hit", {"genre": {"$in": ["comedy", "drama"]}}, {"genre": "drama"}, True),
    case("in-miss", {"genre": {"$in": ["comedy", "drama"]}}, {"genre": "horror"}, False),
    case("in-mixed-types", {"x": {"$in": ["a", 3]}}, {"x": 3}, True),
    case("in-empty", {"genre": {"$in": []}}, {"genre": "drama"}, False),
    case("in-missing", {"genre": {"$in": ["drama"]}}, {}, False),
    case("in-bool-field", {"flag": {"$in": ["true", 1]}}, {"flag": True}, False),
    case("nin-hit", {"genre": {"$nin": ["comedy", "drama"]}}, {"genre": "horror"}, True),
    case("nin-miss", {"genre": {"$nin": ["comedy", "drama"]}}, {"genre": "drama"}, False),
    case("nin-empty", {"genre": {"$nin": []}}, {"genre": "drama"}, True),
    case("nin-number", {"year": {"$nin": [2020, 2021]}}, {"year": 2019}, True),
    case("nin-bool-field", {"flag": {"$nin": [1]}}, {"flag": True}, True),
    case("nin-missing-matches", {"genre": {"$nin": ["drama"]}}, {}, True, NIN_MISSING),
    case("nin-missing-no-match", {"genre": {"$nin": ["drama"]}}, {}, False, NIN_NOT_MISSING),
    case(
        "nin-missing-default",
        {"genre": {"$nin": ["drama"]}},
        {},
        DEFAULT_SEMANTICS.nin_matches_missing,
    ),
    # $exists, with falsy values counting as present
    case("exists-true-present", {"genre": {"$exists": True}}, {"genre": "drama"}, True),
    case("exists-true-missing", {"genre": {"$exists": True}}, {}, False),
    case("exists-false-missing", {"genre": {"$exists": False}}, {"year": 1}, True),
    case("exists-false-present", {"genre": {"$exists": False}}, {"genre": "drama"}, False),
    case("exists-on-false", {"flag": {"$exists": True}}, {"flag": False}, True),
    case("exists-on-zero", {"n": {"$exists": True}}, {"n": 0}, True),
    case("exists-on-empty-string", {"s": {"$exists": True}}, {"s": ""}, True),
    case("exists-on-empty-list", {"tags": {"$exists": True}}, {"tags": []}, True),
    case("not-exists-on-false", {"flag": {"$exists": False}}, {"flag": False}, False),
    case("not-exists-on-empty-list", {"tags": {"$exists": False}}, {"tags": []}, False),
    # list fields: $eq and $in match when any element does
    case("list-shorthand", {"genre": "comedy"}, GENRES, True),
    case("list-eq-second", {"genre": {"$eq": "documentary"}}, GENRES, True),
    case("list-eq-absent", {"genre": "drama"}, GENRES, False),
    case("list-and-both", BOTH, GENRES, True),
    case("list-and-with-drama", WITH_DRAMA, GENRES, False),
    case("list-or-with-drama", {"$or": [{"genre": "comedy"}, {"genre": "drama"}]}, GENRES, True),
    case("list-in-hit", {"genre": {"$in": ["drama", "documentary"]}}, GENRES, True),
    case("list-in-miss", {"genre": {"$in": ["drama", "horror"]}}, GENRES, False),
    case("list-eq-number", {"genre": 1}, {"genre": ["1"]}, False),
    case("empty-list-eq", {"genre": "comedy"}, {"genre": []}, False),
    case("empty-list-in", {"genre": {"$in": ["comedy"]}}, {"genre": []}, False),
    # $ne and $nin on list fields, under both readings
    case("list-ne-none-equal-absent", {"genre": {"$ne": "drama"}}, GENRES, True, NONE_EQUAL),
    case("list-ne-none-equal-present", {"genre": {"$ne": "comedy"}}, GENRES, False, NONE_EQUAL),
    case("list-ne-any-differs-absent", {"genre": {"$ne": "drama"}}, GENRES, True, ANY_DIFFERS),
    case("list-ne-any-differs-present", {"genre": {"$ne": "comedy"}}, GENRES, True, ANY_DIFFERS),
    case(
        "list-ne-any-differs-only",
        {"genre": {"$ne": "comedy"}},
        {"genre": ["comedy"]},
        False,
        ANY_DIFFERS,
    ),
    case(
        "list-nin-none-equal-absent",
        {"genre": {"$nin": ["drama", "horror"]}},
        GENRES,
        True,
        NONE_EQUAL,
    ),
    case(
        "list-nin-none-equal-present",
        {"genre": {"$nin": ["drama", "comedy"]}},
        GENRES,
        False,
        NONE_EQUAL,
    ),
    case(
        "list-nin-any-differs-present",
        {"genre": {"$nin": ["drama", "comedy"]}},
        GENRES,
        True,
        ANY_DIFFERS,
    ),
    case(
        "list-nin-any-differs-all",
        {"genre": {"$nin": ["comedy", "documentary"]}},
        GENRES,
        False,
        ANY_DIFFERS,
    ),
    case("empty-list-ne-none-equal", {"genre": {"$ne": "comedy"}}, {"genre": []}, True, NONE_EQUAL),
    case(
        "empty-list-ne-any-differs", {"genre": {"$ne": "comedy"}}, {"genre": []}, False, ANY_DIFFERS
    ),
    case(
        "empty-list-nin-none-equal",
        {"genre": {"$nin": ["comedy"]}},
        {"genre": []},
        True,
        NONE_EQUAL,
    ),
    case(
        "empty-list-nin-any-differs",
        {"genre": {"$nin": ["comedy"]}},
        {"genre": []},
        False,
        ANY_DIFFERS,
    ),
    # $and / $or nesting
    case(
        "and-both",
        {"$and": [{"genre": "drama"}, {"year": {"$gt": 2000}}]},
        {"genre": "drama", "year": 2001},
        True,
    ),
    case(
        "and-one",
        {"$and": [{"genre": "drama"}, {"year": {"$gt": 2000}}]},
        {"genre": "drama", "year": 1999},
        False,
    ),
    case(
        "or-first", {"$or": [{"genre": "drama"}, {"year": {"$gt": 2000}}]}, {"genre": "drama"}, True
    ),
    case("or-second", {"$or": [{"genre": "drama"}, {"year": {"$gt": 2000}}]}, {"year": 2001}, True),
    case(
        "or-neither",
        {"$or": [{"genre": "drama"}, {"year": {"$gt": 2000}}]},
        {"genre": "comedy", "year": 1999},
        False,
    ),
    case(
        "and-of-ors",
        {"$and": [{"$or": [{"a": 1}, {"b": 1}]}, {"$or": [{"c": 1}, {"d": 1}]}]},
        {"b": 1, "c": 1},
        True,
    ),
    case(
        "and-of-ors-half",
        {"$and": [{"$or": [{"a": 1}, {"b": 1}]}, {"$or": [{"c": 1}, {"d": 1}]}]},
        {"b": 1},
        False,
    ),
    case(
        "or-of-ands",
        {"$or": [{"$and": [{"a": 1}, {"b": 1}]}, {"$and": [{"c": 1}, {"d": 1}]}]},
        {"a": 1, "d": 1},
        False,
    ),
    case(
        "deep-nesting",
        {"$or": [{"$and": [{"a": 1}, {"$or": [{"b": 1}, {"c": {"$exists": False}}]}]}, {"d": 1}]},
        {"a": 1, "b": 2},
        True,
    ),
    case("top-and-plus-field", {"$and": [{"a": 1}], "b": 2}, {"a": 1, "b": 2}, True),
    case("top-or-plus-field", {"$or": [{"a": 1}, {"a": 2}], "b": 2}, {"a": 2, "b": 3}, False),
    case(
        "safe-negation-pattern",
        {"$and": [{"genre": {"$exists": True}}, {"genre": {"$nin": ["drama"]}}]},
        {},
        False,
        NIN_MISSING,
    ),
]


@pytest.mark.parametrize(("flt", "meta", "expected", "sem"), CASES)
def test_evaluate(
    flt: object, meta: dict[str, object], expected: bool, sem: Semantics | None
) -> None:
    """Both evaluators answer each documented case the way Pinecone does."""
    semantics = sem or DEFAULT_SEMANTICS
    try:
        parsed = parse_filter(flt)
    except FilterError as refused:
        # Pinecone takes it; a policy may not say it (an empty list is almost surely a slip).
        assert "empty list" in str(refused)
    else:
        assert compile_filter(parsed, semantics)(meta) is expected
    emulated = compile_request_filter(flt, readings_of(semantics), with_not=False)
    assert emulated(meta) is expected


def test_case_count() -> None:
    """The table keeps at least 90 cases drawn from FACTS.md."""
    assert len(CASES) >= 90


def test_default_semantics() -> None:
    """The defaults are the documented `$ne` behaviour and the likeliest readings of the rest."""
    assert DEFAULT_SEMANTICS.ne_matches_missing is False
    assert DEFAULT_SEMANTICS.nin_matches_missing is True
    assert DEFAULT_SEMANTICS.list_negation == "none_equal"


def test_metadata_int_beyond_float_range_is_not_a_number() -> None:
    """A huge integer in a record is no number for range operators, and does not crash them."""
    assert not compile_filter(parse_filter({"n": {"$gt": 0}}))({"n": 10**400})
    assert not compile_request_filter(
        {"n": {"$gt": 0}}, readings_of(DEFAULT_SEMANTICS), with_not=False
    )({"n": 10**400})
