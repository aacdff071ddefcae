"""YAML documents that remember where every value came from.

Policies are reviewed as text, so every error must point at a line and column. We compose the
YAML node graph ourselves instead of using `yaml.safe_load`, which forgets positions and lets a
duplicate key silently overwrite the first one: for a retention policy that could turn a narrow
rule into a broad one without anybody noticing in review.

Scalars resolve as in YAML 1.2: only `true`/`false` are booleans (`yes`, `no`, `on`, `off` stay
strings) and dates stay strings, so `deleteAll: yes` is an error rather than a quiet opt-in.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from retention.errors import Location, PolicyError

JsonPath = tuple[str | int, ...]


class _Resolver(yaml.resolver.Resolver):
    """The safe resolver without YAML 1.1's wide booleans and timestamps."""


_Resolver.yaml_implicit_resolvers = {
    first: [
        (tag, rx)
        for tag, rx in resolvers
        if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")
    ]
    for first, resolvers in yaml.resolver.Resolver.yaml_implicit_resolvers.items()
}
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


class _Loader(
    yaml.reader.Reader,
    yaml.scanner.Scanner,
    yaml.parser.Parser,
    yaml.composer.Composer,
    yaml.constructor.SafeConstructor,
    _Resolver,
):
    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        _Resolver.__init__(self)


@dataclass
class Document:
    """One YAML document: its data as plain JSON-like values, and where each value starts."""

    path: str
    data: Any
    start: Location
    # path -> (location of the key, location of the value); the root is ().
    positions: dict[JsonPath, tuple[Location, Location]] = field(default_factory=dict)

    def at(self, path: JsonPath, *, key: bool = False) -> Location:
        """Where the value at `path` starts (or its key, with `key=True`); the nearest parent
        that exists when the path leads nowhere (a missing key is reported at its mapping)."""
        for end in range(len(path), -1, -1):
            found = self.positions.get(tuple(path[:end]))
            if found is not None:
                return found[0] if key and end == len(path) else found[1]
        return self.start


def load_documents(text: str, path: str) -> Iterator[Document]:
    """Every non-empty document in `text`; raises PolicyError on malformed YAML or a
    duplicate key (the first one found: a broken file cannot be read any further)."""
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            start = _location(path, node.start_mark)
            if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
                continue
            doc = Document(path=path, data=None, start=start)
            doc.positions[()] = (start, start)
            doc.data = _construct(loader, node, doc, ())
            yield doc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = _location(path, mark) if mark is not None else Location(path)
        problem = exc.problem or exc.context or "malformed YAML"
        raise PolicyError(where, f"invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise PolicyError(Location(path), f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()


def _construct(loader: _Loader, node: yaml.Node, doc: Document, path: JsonPath) -> Any:
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        result: dict[str, Any] = {}
        first_seen: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            key_at = _location(doc.path, key_node.start_mark)
            if not isinstance(key, str):
                raise PolicyError(key_at, f"keys must be strings, got {key!r}")
            if key in first_seen:
                line = first_seen[key].start_mark.line + 1
                raise PolicyError(key_at, f"duplicate key '{key}' (first defined at line {line})")
            first_seen[key] = key_node
            sub = (*path, key)
            doc.positions[sub] = (key_at, _location(doc.path, value_node.start_mark))
            result[key] = _construct(loader, value_node, doc, sub)
        return result
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            sub = (*path, i)
            at = _location(doc.path, item.start_mark)
            doc.positions[sub] = (at, at)
            items.append(_construct(loader, item, doc, sub))
        return items
    value = loader.construct_object(node, deep=True)
    if isinstance(value, bytes | set):
        raise PolicyError(_location(doc.path, node.start_mark), f"unsupported YAML type {node.tag}")
    return value


def _location(path: str, mark: yaml.Mark) -> Location:
    return Location(path, mark.line + 1, mark.column + 1)


def render_path(path: JsonPath) -> str:
    """`spec.rules[0].olderThan` for ("spec", "rules", 0, "olderThan")."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text
