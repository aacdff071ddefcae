"""parse_filter rejections (full message and path), JSON round-trips, and the filter helpers."""

from __future__ import annotations

import pytest

from retention.filters import (
    MAX_IN_VALUES,
    And,
    Compare,
    FilterError,
    Or,
    Problem,
    and_,
    describe,
    format_epoch,
    is_tautology,
    or_,
    parse_filter,
    to_json,
)

SUPPORTED = "$eq, $ne, $gt, $gte, $lt, $lte, $in, $nin, $exists (and $and, $or at the top level)"
AUG_26_0300_S = 1_787_713_200  # 2026-08-26T03:00:00Z in epoch seconds


def rejected(name: str, flt: object, path: tuple[object, ...], message: str) -> object:
    """One rejection row: the filter, and the path and full text of its single problem."""
    return pytest.param(flt, path, message, id=name)


REJECTIONS = [
    rejected(
        "unknown-operator-regex",
        {"genre": {"$regex": "doc.*"}},
        ("genre", "$regex"),
        f"unknown operator $regex; Pinecone supports {SUPPORTED}",
    ),
    rejected(
        "gt-on-string",
        {"year": {"$gt": "2020"}},
        ("year", "$gt"),
        "$gt compares numbers only, got string '2020' (store times as epoch numbers to compare them)",
    ),
    rejected(
        "gte-on-boolean",
        {"year": {"$gte": True}},
        ("year", "$gte"),
        "$gte compares numbers only, got boolean true",
    ),
    rejected(
        "lt-on-list", {"year": {"$lt": [1]}}, ("year", "$lt"), "$lt compares numbers only, got list"
    ),
    rejected(
        "array-as-shorthand",
        {"genre": ["comedy", "documentary"]},
        ("genre",),
        "a list is not a value for field 'genre': to match any of several values write "
        "{genre: {$in: [...]}}",
    ),
    rejected(
        "nested-metadata-object",
        {"meta": {"author": "ann"}},
        ("meta",),
        "field 'meta' holds a nested mapping; Pinecone metadata is flat, so filter on a "
        "top-level field (for example 'meta_author') or use an operator such as {$eq: ...}",
    ),
    rejected(
        "in-10001-values",
        {"id": {"$in": list(range(MAX_IN_VALUES + 1))}},
        ("id", "$in"),
        "$in takes at most 10,000 values, got 10,001",
    ),
    rejected(
        "nin-10001-values",
        {"id": {"$nin": [str(i) for i in range(MAX_IN_VALUES + 1)]}},
        ("id", "$nin"),
        "$nin takes at most 10,000 values, got 10,001",
    ),
    rejected("empty-filter", {}, (), "empty filter: it would match every record"),
    rejected(
        "filter-as-list",
        [{"genre": "drama"}],
        (),
        "a filter is a mapping of field names to conditions, not a list",
    ),
    rejected("filter-as-string", "genre", (), "a filter must be a mapping, got string"),
    rejected("filter-as-null", None, (), "a filter must be a mapping, got null"),
    rejected(
        "top-level-bare-gt",
        {"$gt": 5},
        ("$gt",),
        "operator $gt must be nested under a field, as in {field: {$gt: ...}}",
    ),
    rejected(
        "top-level-unknown",
        {"$nor": [{"a": 1}]},
        ("$nor",),
        f"unknown operator $nor; Pinecone supports {SUPPORTED}",
    ),
    rejected(
        "and-not-a-list", {"$and": {"a": 1}}, ("$and",), "$and takes a list of filters, got mapping"
    ),
    rejected("or-not-a-list", {"$or": "a"}, ("$or",), "$or takes a list of filters, got string"),
    rejected("and-empty", {"$and": []}, ("$and",), "$and needs at least one filter"),
    rejected("or-empty", {"$or": []}, ("$or",), "$or needs at least one filter"),
    rejected(
        "and-holding-empty-filter",
        {"$and": [{"a": 1}, {}]},
        ("$and", 1),
        "empty filter: it would match every record",
    ),
    rejected(
        "and-under-field",
        {"a": {"$and": [{"a": 1}]}},
        ("a", "$and"),
        "$and belongs at the top level of a filter, not under field 'a'",
    ),
    rejected(
        "int-beyond-float-range",
        {"n": 10**400},
        ("n",),
        "field 'n' has an unsupported value of type number",
    ),
    rejected(
        "gt-int-beyond-float-range",
        {"n": {"$gt": -(10**400)}},
        ("n", "$gt"),
        "$gt compares numbers only, got number",
    ),
    rejected(
        "in-int-beyond-float-range",
        {"n": {"$in": [1, 10**400]}},
        ("n", "$in", 1),
        "$in takes strings and numbers, got number",
    ),
    rejected(
        "exists-yes",
        {"a": {"$exists": "yes"}},
        ("a", "$exists"),
        "$exists takes true or false, got string 'yes'",
    ),
    rejected(
        "exists-one",
        {"a": {"$exists": 1}},
        ("a", "$exists"),
        "$exists takes true or false, got number 1",
    ),
    rejected(
        "null-shorthand",
        {"a": None},
        ("a",),
        "null is not a metadata value; to match records without field 'a' write "
        "{a: {$exists: false}}",
    ),
    rejected(
        "null-eq",
        {"a": {"$eq": None}},
        ("a", "$eq"),
        "null is not a metadata value; to match records without field 'a' write "
        "{a: {$exists: false}}",
    ),
    rejected(
        "null-in-list",
        {"a": {"$in": ["x", None]}},
        ("a", "$in", 1),
        "$in takes strings and numbers, got null",
    ),
    rejected(
        "in-with-boolean",
        {"a": {"$in": ["x", True]}},
        ("a", "$in", 1),
        "$in takes strings and numbers, got boolean true",
    ),
    rejected(
        "nin-with-boolean",
        {"a": {"$nin": [False]}},
        ("a", "$nin", 0),
        "$nin takes strings and numbers, got boolean false",
    ),
    rejected(
        "in-not-a-list",
        {"a": {"$in": "x"}},
        ("a", "$in"),
        "$in takes a list of values, got string 'x'",
    ),
    rejected(
        "eq-with-list",
        {"genre": {"$eq": ["comedy", "documentary"]}},
        ("genre", "$eq"),
        "$eq takes a single value; to compare with several use $in",
    ),
    rejected(
        "ne-with-list",
        {"genre": {"$ne": ["comedy"]}},
        ("genre", "$ne"),
        "$ne takes a single value; to compare with several use $nin",
    ),
    rejected(
        "eq-with-mapping",
        {"a": {"$eq": {"b": 1}}},
        ("a", "$eq"),
        "$eq takes a string, number or boolean, got a mapping",
    ),
    rejected("empty-condition", {"a": {}}, ("a",), "the condition for field 'a' is empty"),
    rejected("empty-field-name", {"": 1}, ("",), "field name must not be empty"),
    rejected("non-string-field-name", {1: 1}, (), "field names are strings, got number 1"),
    rejected(
        "not-rejected-by-default",
        {"genre": {"$not": {"$eq": "drama"}}},
        ("genre", "$not"),
        f"unknown operator $not; Pinecone supports {SUPPORTED}",
    ),
    rejected(
        "not-at-top-level",
        {"$not": {"genre": "drama"}},
        ("$not",),
        "operator $not must be nested under a field, as in {field: {$not: ...}}",
    ),
    rejected(
        "match-phrase",
        {"text": {"$match_phrase": "red fox"}},
        ("text", "$match_phrase"),
        "full-text operator $match_phrase is not allowed in a metadata filter here",
    ),
    rejected(
        "match-all",
        {"text": {"$match_all": "red fox"}},
        ("text", "$match_all"),
        "full-text operator $match_all is not allowed in a metadata filter here",
    ),
    rejected(
        "match-any-top-level",
        {"$match_any": "red fox"},
        ("$match_any",),
        "full-text operator $match_any is not allowed in a metadata filter here",
    ),
    rejected(
        "strict-in-empty",
        {"g": {"$in": []}},
        ("g", "$in"),
        "$in with an empty list matches nothing; give at least one value",
    ),
    rejected(
        "strict-nin-empty",
        {"g": {"$nin": []}},
        ("g", "$nin"),
        "$nin with an empty list excludes nothing; give at least one value",
    ),
]


@pytest.mark.parametrize(("flt", "path", "message"), REJECTIONS)
def test_rejection(flt: object, path: tuple[object, ...], message: str) -> None:
    """Each invalid filter is rejected with one problem at the culprit's path, in plain words."""
    with pytest.raises(FilterError) as raised:
        parse_filter(flt)
    assert raised.value.problems == (Problem(path, message),)
    assert str(raised.value) == message


def test_in_with_10000_values_accepted() -> None:
    """Exactly 10,000 `$in` values is Pinecone's limit and is accepted."""
    parsed = parse_filter({"id": {"$in": list(range(MAX_IN_VALUES))}})
    assert isinstance(parsed, Compare)
    assert parsed.value == tuple(range(MAX_IN_VALUES))


def test_multiple_problems_reported_together() -> None:
    """Every problem in a filter is reported at once, in document order."""
    with pytest.raises(FilterError) as raised:
        parse_filter(
            {
                "genre": {"$regex": "doc"},
                "author": None,
                "$and": [{"year": {"$gt": True}}, {"tags": {"$in": [1, True, None]}}],
            }
        )
    assert raised.value.problems == (
        Problem(("genre", "$regex"), f"unknown operator $regex; Pinecone supports {SUPPORTED}"),
        Problem(
            ("author",),
            "null is not a metadata value; to match records without field 'author' write "
            "{author: {$exists: false}}",
        ),
        Problem(("$and", 0, "year", "$gt"), "$gt compares numbers only, got boolean true"),
        Problem(("$and", 1, "tags", "$in", 1), "$in takes strings and numbers, got boolean true"),
        Problem(("$and", 1, "tags", "$in", 2), "$in takes strings and numbers, got null"),
    )


def test_several_operators_on_one_field_parse_to_and() -> None:
    """`{year: {$gte: a, $lte: b}}` is the AND of two comparisons on that field."""
    assert parse_filter({"year": {"$gte": 2000, "$lte": 2010}}) == And(
        (Compare("year", "$gte", 2000), Compare("year", "$lte", 2010))
    )


def test_top_level_fields_flatten_into_one_and() -> None:
    """Top-level fields and a top-level `$and` are one flat AND."""
    assert parse_filter({"$and": [{"a": 1}, {"b": 2}], "c": 3}) == And(
        (Compare("a", "$eq", 1), Compare("b", "$eq", 2), Compare("c", "$eq", 3))
    )


ROUND_TRIPS = [
    pytest.param({"genre": "drama"}, id="shorthand"),
    pytest.param({"genre": "drama", "year": 2020, "flag": False}, id="several-fields"),
    pytest.param({"year": {"$gte": 2000, "$lte": 2010}}, id="two-ops-one-field"),
    pytest.param({"score": {"$gt": 0.5}}, id="float"),
    pytest.param({"g": {"$in": ["a", 1, 2.5]}, "h": {"$nin": ["x"]}}, id="in-nin"),
    pytest.param({"g": {"$exists": False}}, id="exists"),
    pytest.param({"g": {"$ne": "x"}}, id="ne"),
    pytest.param({"$or": [{"a": 1}, {"b": {"$lt": 3}}]}, id="or"),
    pytest.param(
        {"$and": [{"$or": [{"a": 1}, {"$and": [{"b": 2}, {"c": {"$exists": True}}]}]}, {"d": "x"}]},
        id="nested",
    ),
    pytest.param({"$and": [{"a": {"$gte": 1, "$lt": 5}}, {"b": 1}]}, id="and-holding-field-and"),
]


@pytest.mark.parametrize("raw", ROUND_TRIPS)
def test_round_trip(raw: dict[str, object]) -> None:
    """`to_json` writes a filter that parses back to an equal Filter."""
    parsed = parse_filter(raw)
    assert parse_filter(to_json(parsed)) == parsed


def test_to_json_shape() -> None:
    """`to_json` writes one operator per field clause, and `$in` values as a list."""
    assert to_json(parse_filter({"g": "a", "y": {"$in": [1, 2]}})) == {
        "$and": [{"g": {"$eq": "a"}}, {"y": {"$in": [1, 2]}}]
    }


DESCRIPTIONS = [
    pytest.param(
        {"created_at": {"$lt": AUG_26_0300_S}, "genre": "doc"},
        {"created_at": "s"},
        'created_at < 2026-08-26T03:00:00Z and genre == "doc"',
        id="time-seconds",
    ),
    pytest.param(
        {"created_at": {"$lt": AUG_26_0300_S * 1000}, "genre": "doc"},
        {"created_at": "ms"},
        'created_at < 2026-08-26T03:00:00Z and genre == "doc"',
        id="time-ms",
    ),
    pytest.param(
        {"created_at": {"$gte": AUG_26_0300_S * 1000 + 123}},
        {"created_at": "ms"},
        "created_at >= 2026-08-26T03:00:00.123Z",
        id="time-ms-fraction",
    ),
    pytest.param(
        {"created_at": {"$lt": AUG_26_0300_S}},
        None,
        "created_at < 1787713200",
        id="time-without-time-fields",
    ),
    pytest.param(
        {"a": {"$gte": 1}, "$or": [{"b": "x"}, {"c": {"$exists": False}}]},
        None,
        'a >= 1 and (b == "x" or c is missing)',
        id="or-inside-and",
    ),
    pytest.param(
        {"$or": [{"a": {"$ne": 2.0}, "b": {"$exists": True}}, {"c": {"$gt": 0.5}}]},
        None,
        "(a != 2 and b exists) or c > 0.5",
        id="and-inside-or",
    ),
    pytest.param(
        {"g": {"$in": ["a", "b", "c", "d", "e", "f", "g"]}},
        None,
        'g in ["a", "b", "c", "d", "e", … 2 more]',
        id="long-in",
    ),
    pytest.param({"year": {"$nin": [2020, 2021]}}, None, "year not in [2020, 2021]", id="nin"),
    pytest.param(
        {"flag": True, "done": {"$ne": False}}, None, "flag == true and done != false", id="bools"
    ),
    pytest.param({"t": 'say "hi"'}, None, 't == "say \\"hi\\""', id="quoted-string"),
]


@pytest.mark.parametrize(("raw", "time_fields", "expected"), DESCRIPTIONS)
def test_describe(
    raw: dict[str, object], time_fields: dict[str, str] | None, expected: str
) -> None:
    """`describe` renders a filter as a short condition people can read."""
    assert describe(parse_filter(raw), time_fields) == expected


def test_format_epoch() -> None:
    """Epoch seconds and milliseconds render as the same ISO 8601 UTC instant."""
    assert format_epoch(AUG_26_0300_S, "s") == "2026-08-26T03:00:00Z"
    assert format_epoch(AUG_26_0300_S * 1000, "ms") == "2026-08-26T03:00:00Z"
    assert format_epoch(0, "s") == "1970-01-01T00:00:00Z"


A = Compare("a", "$eq", 1)
B = Compare("b", "$gt", 2)
C = Compare("c", "$in", ("x", "y", "z"))
D = Compare("d", "$nin", ("p",))
A_EXISTS = Compare("a", "$exists", True)
A_MISSING = Compare("a", "$exists", False)


def test_and_flattens_and_skips_none() -> None:
    """`and_` drops None, returns a lone filter as is and flattens nested ANDs."""
    assert and_() is None
    assert and_(None, None) is None
    assert and_(None, A) == A
    assert and_(A, And((B, C)), None, D) == And((A, B, C, D))
    assert and_(Or((A, B)), C) == And((Or((A, B)), C))


def test_or_flattens() -> None:
    """`or_` flattens nested ORs and refuses to build an empty OR."""
    assert or_(A) == A
    assert or_(Or((A, B)), C) == Or((A, B, C))
    with pytest.raises(ValueError, match="at least one"):
        or_()


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        pytest.param(Or((A_EXISTS, A_MISSING)), True, id="exists-or-missing"),
        pytest.param(Or((B, A_MISSING, C, A_EXISTS)), True, id="exists-or-missing-among-others"),
        pytest.param(
            And((Or((A_EXISTS, A_MISSING)), Or((A_MISSING, A_EXISTS)))),
            True,
            id="and-of-tautologies",
        ),
        pytest.param(Or((B, And((Or((A_EXISTS, A_MISSING)),)))), True, id="or-holding-tautology"),
        pytest.param(A_EXISTS, False, id="exists-alone"),
        pytest.param(Or((A_EXISTS, Compare("b", "$exists", False))), False, id="different-fields"),
        pytest.param(And((Or((A_EXISTS, A_MISSING)), B)), False, id="and-with-condition"),
        pytest.param(Or((A, Compare("a", "$ne", 1))), False, id="eq-or-ne-is-not-a-tautology"),
    ],
)
def test_is_tautology(flt: object, expected: bool) -> None:
    """`is_tautology` spots `x exists or x is missing`, through ANDs and ORs."""
    assert is_tautology(flt) is expected  # type: ignore[arg-type]
