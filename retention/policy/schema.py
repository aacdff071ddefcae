"""JSON Schema validation of policy documents, reported at the offending line and column.

The schema in `schemas/` is the contract editors and CI share; this module turns jsonschema's
errors into messages a policy author can act on (`unknown key 'olderthan'; expected one of:
...`) instead of validator jargon.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator

from retention.errors import PolicyError
from retention.policy.yamlsource import Document, render_path

POLICY_SCHEMA = "retention-policy.v1.json"
PLAN_SCHEMA = "plan.v1.json"


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A schema shipped with the package (the files of the top-level `schemas/` folder)."""
    text = (resources.files("retention") / "schemas" / name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator(name: str) -> Draft202012Validator:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def schema_errors(doc: Document) -> list[PolicyError]:
    """Every schema violation in the document, one error each, most specific first."""
    errors: list[PolicyError] = []
    for error in _leaves(_validator(POLICY_SCHEMA).iter_errors(doc.data)):
        path = tuple(error.absolute_path)
        at_key = error.validator == "additionalProperties"
        message = _message(error)
        if at_key:
            for extra in _extras(error):
                where = doc.at((*path, extra), key=True)
                errors.append(PolicyError(where, _prefix((*path, extra), _unknown(extra, error))))
            continue
        errors.append(PolicyError(doc.at(path), _prefix(path, message)))
    return list({str(e): e for e in errors}.values())  # one line per problem


def _leaves(errors: Iterator[jsonschema.ValidationError]) -> Iterator[jsonschema.ValidationError]:
    """Descend into if/then and $ref wrappers to the errors that name a concrete problem."""
    for error in errors:
        if error.context:
            yield from _leaves(iter(error.context))
        else:
            yield error


def _prefix(path: tuple[Any, ...], message: str) -> str:
    where = render_path(path)
    return f"{where}: {message}" if where else message


def _extras(error: jsonschema.ValidationError) -> list[str]:
    schema: Any = error.schema
    instance: Any = error.instance
    allowed = set(schema.get("properties", {}))
    return sorted(k for k in instance if k not in allowed)


def _unknown(key: str, error: jsonschema.ValidationError) -> str:
    schema: Any = error.schema
    allowed = sorted(schema.get("properties", {}))
    close = [a for a in allowed if a.lower() == key.lower()]
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown key '{key}'{hint}; expected one of: {', '.join(allowed)}"


_TYPES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
}


def _message(error: jsonschema.ValidationError) -> str:
    schema: Any = error.schema if isinstance(error.schema, dict) else {}
    custom = schema.get("errorMessage")
    value: Any = error.instance
    expected: Any = error.validator_value
    kind = error.validator
    if kind == "required":
        missing = [k for k in expected if k not in value]
        return f"missing required key '{missing[0]}'"
    if kind == "type":
        expected = expected
        names = [expected] if isinstance(expected, str) else list(expected)
        wanted = " or ".join(_TYPES.get(n, n) for n in names)
        return f"expected {wanted}, got {_describe(value)}"
    if custom and kind == "minProperties":
        return str(custom)
    if custom and kind == "minLength" and value == "":
        return str(custom)
    if custom and kind == "not":
        return f"{custom}, got: {value}"
    if custom and kind in ("pattern", "const", "enum", "minLength", "maxLength"):
        return f"{custom}; got {_describe(value)}"
    if kind == "const":
        return f"must be {json.dumps(expected)}, got {_describe(value)}"
    if kind == "enum":
        options = ", ".join(str(v) for v in expected)
        return f"must be one of {options}; got {_describe(value)}"
    if kind == "minItems":
        return "must not be empty" if expected == 1 else error.message
    if kind == "minProperties":
        return "must not be empty"
    if kind == "minLength":
        return "must not be empty"
    if kind == "dependentRequired":
        key = _dependent_key(error)
        return _DEPENDENCIES.get(key, f"{key} needs {', '.join(expected[key])}")
    if kind in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        bound = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}
        return f"must be {bound[kind]} {expected}, got {value}"
    return str(error.message)


_DEPENDENCIES = {
    "olderThan": "olderThan needs field: the metadata field holding each record's time as an epoch number",
    "field": "field names the time field of a TTL and needs olderThan",
    "unit": "unit belongs to a TTL and needs olderThan",
}


def _dependent_key(error: jsonschema.ValidationError) -> str:
    expected: Any = error.validator_value
    instance: Any = error.instance
    for key, needs in expected.items():
        if key in instance and any(n not in instance for n in needs):
            return str(key)
    return str(next(iter(expected)))


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return f"boolean {'true' if value else 'false'}"
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"string '{value}'" if len(value) <= 60 else "a long string"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, list):
        return "a list"
    return "a mapping"
