"""YAML documents that remember where every value came from.

Policies are reviewed as text, so every error must point at a line and column. We compose the
YAML node graph ourselves instead of using `yaml.safe_load`, which forgets positions and lets a
duplicate key silently overwrite the first one: for a retention policy that could turn a narrow
rule into a broad one without anybody noticing in review.

Scalars resolve as in YAML 1.2: only `true`/`false` are booleans (`yes`, `no`, `on`, `off` stay
strings) and dates stay strings, so `deleteAll: yes` is an error rather than a quiet opt-in.
Because other YAML tools still read `yes` as true, the document also remembers which values were
written as plain (unquoted) scalars and how, so that filters can refuse the ambiguous ones.

A policy file is input that may be careless or hostile, so composing is bounded: anchors, aliases
and merge keys are refused (an alias "bomb" expands a few lines into gigabytes) and nesting
deeper than MAX_DEPTH mappings and lists is an error at the first node past it, found while
composing, before anything recurses over the tree. Events come from libyaml when PyYAML has
it (some five times faster, so that even the largest policy file loads in about a second) and
from PyYAML's own parser otherwise; the two word a few syntax errors differently.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from retention.errors import Location, PolicyError

JsonPath = tuple[str | int, ...]

MAX_DEPTH = 64
"""Mappings and lists nested deeper than this are refused; real policies need fewer than 10."""


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


class _PythonParser(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):
    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)


def _libyaml() -> type[Any] | None:
    try:
        from yaml._yaml import CParser
    except ImportError:  # pragma: no cover - PyYAML built without libyaml
        return None
    return CParser


_FastParser = _libyaml()

FAST = _FastParser is not None
"""Whether events come from libyaml (tests use it to pick the wording of syntax errors)."""


class _Loader(yaml.composer.Composer, yaml.constructor.SafeConstructor, _Resolver):
    """Our composer and constructor over either parser's events."""

    def __init__(self, stream: str, path: str, *, fast: bool = FAST) -> None:
        self.events: _PythonParser | yaml._yaml.CParser = (
            _FastParser(stream) if fast and _FastParser is not None else _PythonParser(stream)
        )
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        _Resolver.__init__(self)
        self.path = path
        self.depth = 0
        self.plain: set[int] = set()  # id() of scalar nodes written plain, their tag implied

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise PolicyError(
                self._at(event),
                f"YAML aliases (*{event.anchor}) are not allowed in policy files; "
                "write the value out in full",
            )
        if isinstance(event, yaml.NodeEvent) and event.anchor is not None:
            raise PolicyError(
                self._at(event),
                f"YAML anchors (&{event.anchor}) are not allowed in policy files; "
                "write the value out where it is used",
            )
        nested = isinstance(event, yaml.CollectionStartEvent)
        if nested:
            if self.depth >= MAX_DEPTH:
                raise PolicyError(
                    self._at(event),
                    f"nested deeper than {MAX_DEPTH} levels of mappings and lists; "
                    "a policy document is never this deep",
                )
            self.depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            if nested:
                self.depth -= 1
        if isinstance(event, yaml.ScalarEvent) and event.implicit[0]:
            self.plain.add(id(node))
        return node

    def check_event(self, *choices: type[yaml.Event]) -> bool:
        return bool(self.events.check_event(*choices))

    def peek_event(self) -> Any:
        return self.events.peek_event()

    def get_event(self) -> Any:
        return self.events.get_event()

    def dispose(self) -> None:
        self.events.dispose()

    def _at(self, event: yaml.Event) -> Location:
        mark = event.start_mark
        return Location(self.path, mark.line + 1, mark.column + 1) if mark else Location(self.path)


@dataclass
class Document:
    """One YAML document: its data as plain JSON-like values, and where each value starts."""

    path: str
    data: Any
    start: Location
    # path -> (location of the key, location of the value); the root is ().
    positions: dict[JsonPath, tuple[Location, Location]] = field(default_factory=dict)
    # path -> the text of a value written as a plain (unquoted, untagged) scalar: `yes` and
    # `"yes"` load alike, and only this tells them apart.
    plain: dict[JsonPath, str] = field(default_factory=dict)

    def at(self, path: JsonPath, *, key: bool = False) -> Location:
        """Where the value at `path` starts (or its key, with `key=True`); the nearest parent
        that exists when the path leads nowhere (a missing key is reported at its mapping)."""
        for end in range(len(path), -1, -1):
            found = self.positions.get(tuple(path[:end]))
            if found is not None:
                return found[0] if key and end == len(path) else found[1]
        return self.start


def load_documents(text: str, path: str, *, fast: bool = FAST) -> Iterator[Document]:
    """Every non-empty document in `text`; raises PolicyError on malformed YAML or a
    duplicate key (the first one found: a broken file cannot be read any further). `fast`:
    parse with libyaml, when PyYAML has it."""
    fast = fast and _FastParser is not None
    loader: _Loader | None = None
    try:
        loader = _Loader(text, path, fast=fast)
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
            loader.plain.clear()
            yield doc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = _location(path, mark) if mark is not None else Location(path)
        problem = exc.problem or exc.context or "malformed YAML"
        raise PolicyError(where, f"invalid YAML: {problem}") from None
    except yaml.reader.ReaderError as exc:
        # libyaml counts bytes of the UTF-8 text, PyYAML characters.
        offset = (
            len(text.encode()[: exc.position].decode(errors="ignore")) if fast else exc.position
        )
        where = _offset_location(path, text, offset)
        raise PolicyError(
            where, f"invalid YAML: character #x{exc.character:04x} is not allowed in YAML text"
        ) from None
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "malformed YAML"
        raise PolicyError(Location(path), f"invalid YAML: {first}") from None
    finally:
        if loader is not None:
            loader.dispose()


_MERGE = "tag:yaml.org,2002:merge"
_STR = "tag:yaml.org,2002:str"
_SCALARS = (str, int, float, bool, type(None))


def _construct(loader: _Loader, node: yaml.Node, doc: Document, path: JsonPath) -> Any:
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        first_seen: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key_at = _location(doc.path, key_node.start_mark)
            if key_node.tag == _MERGE:
                raise PolicyError(
                    key_at,
                    "YAML merge keys (<<) are not allowed in policy files; write the keys out",
                )
            key = loader.construct_object(key_node, deep=True)
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
    value = node.value if node.tag == _STR else loader.construct_object(node, deep=True)
    if not isinstance(value, _SCALARS):
        raise PolicyError(_location(doc.path, node.start_mark), f"unsupported YAML type {node.tag}")
    if id(node) in loader.plain:
        doc.plain[path] = str(node.value)
    return value


def _location(path: str, mark: yaml.Mark) -> Location:
    return Location(path, mark.line + 1, mark.column + 1)


def _offset_location(path: str, text: str, offset: int) -> Location:
    line_start = text.rfind("\n", 0, offset) + 1
    return Location(path, text.count("\n", 0, offset) + 1, offset - line_start + 1)


def render_path(path: JsonPath) -> str:
    """`spec.rules[0].olderThan` for ("spec", "rules", 0, "olderThan")."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text
