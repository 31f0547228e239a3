"""YAML that remembers where every key and value came from.

PyYAML's `safe_load` forgets line numbers and silently keeps the last of two equal keys. The
config loader needs both: a problem must be reported as `file:line`, and a duplicated key is a
mistake, not an override. So we let PyYAML compose its node tree (which carries marks) and build
the Python values ourselves:

- mappings become `YamlMap` (a dict) that also knows each key's line and each scalar's source text;
- sequences become `YamlList` (a list) with each item's line and source text;
- scalars become plain `str`, `int`, `float`, `bool` or `None`. Timestamps stay strings (an API
  description `2024-01-01` must not turn into a `date`), and mapping keys are always the key's
  source text (`200:` is the key "200", `on:` is "on").

Merge keys (`<<: *defaults`) work as in YAML 1.1: explicit keys win over merged ones. Aliases are
shared, not copied, so an alias bomb costs nothing. Tags other than the standard ones (`!Ref`,
`!!binary`, ...) are reported, never guessed at.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_TAG = "tag:yaml.org,2002:"
_CONSTRUCTED_SCALAR_TAGS = frozenset(_TAG + name for name in ("null", "bool", "int", "float", "str"))
_TEXT_SCALAR_TAGS = frozenset({_TAG + "timestamp"})
_MAP_TAG = _TAG + "map"
_SEQ_TAG = _TAG + "seq"
_MERGE_TAG = _TAG + "merge"


class YamlMap(dict[str, Any]):
    """A mapping from the file, with the line of each key and the source text of each scalar value."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[str, int] = {}
        self.value_lines: dict[str, int] = {}
        self.texts: dict[str, str] = {}

    def key_line(self, key: str, default: int | None = None) -> int:
        """The line of `key`, or `default` (else the mapping's own line) when the key is absent."""
        return self.key_lines.get(key, self.line if default is None else default)


class YamlList(list[Any]):
    """A sequence from the file, with the line and the scalar source text of each item."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.item_lines: list[int] = []
        self.texts: list[str | None] = []


@dataclass(frozen=True)
class DuplicateKey:
    """A key given twice in one mapping; `path` is the chain of keys leading to that mapping."""

    path: tuple[str, ...]
    key: str
    line: int
    first_line: int


@dataclass(frozen=True)
class YamlIssue:
    """Something in the file that is not plain YAML data (an unsupported tag, a complex key)."""

    line: int
    message: str


@dataclass(frozen=True)
class ParsedYaml:
    value: Any
    duplicates: tuple[DuplicateKey, ...]
    issues: tuple[YamlIssue, ...]


class YamlSyntaxError(Exception):
    """The text is not YAML; `line` is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


def parse_yaml(text: str) -> ParsedYaml:
    """Parse one YAML document into plain values that remember their lines; raises YamlSyntaxError."""
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else 1
        message = " ".join(part for part in (error.context, error.problem) if part)
        raise YamlSyntaxError(line, message or "invalid YAML") from None
    except yaml.YAMLError as error:  # e.g. a reader error on a control character
        raise YamlSyntaxError(1, str(error)) from None
    builder = _Builder()
    value = None if root is None else builder.build(root, ())
    return ParsedYaml(value, tuple(builder.duplicates), tuple(builder.issues))


def to_plain(value: Any) -> Any:
    """The same data as ordinary dicts and lists, for fields kept as given (JSON-ready)."""
    if isinstance(value, dict):
        return {key: to_plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_plain(item) for item in value]
    return value


def describe(value: Any, text: str | None = None) -> str:
    """How a value reads in a message: `'ten'`, `a mapping`, `a list`, `nothing (null)`."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    return repr(text if text is not None else str(value))


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


class _Builder:
    def __init__(self) -> None:
        self.duplicates: list[DuplicateKey] = []
        self.issues: list[YamlIssue] = []
        self._built: dict[int, Any] = {}
        self._active: set[int] = set()
        self._constructor = yaml.SafeLoader("")  # only its scalar constructors are used

    def build(self, node: yaml.Node, path: tuple[str, ...]) -> Any:
        key = id(node)
        if key in self._built:
            return self._built[key]
        if key in self._active:
            self.issues.append(YamlIssue(_line(node), "a YAML alias refers to itself"))
            return None
        self._active.add(key)
        try:
            if isinstance(node, yaml.MappingNode):
                value: Any = self._mapping(node, path)
            elif isinstance(node, yaml.SequenceNode):
                value = self._sequence(node, path)
            else:
                value = self._scalar(node)
        finally:
            self._active.discard(key)
        self._built[key] = value
        return value

    def _check_tag(self, node: yaml.Node, allowed: frozenset[str] | str) -> bool:
        if node.tag == allowed or node.tag in allowed:
            return True
        self.issues.append(YamlIssue(_line(node), f"the YAML tag {node.tag} is not supported here"))
        return False

    def _scalar(self, node: yaml.Node) -> Any:
        if node.tag in _TEXT_SCALAR_TAGS:
            return node.value
        if not self._check_tag(node, _CONSTRUCTED_SCALAR_TAGS):
            return str(node.value)  # reported; its text keeps the reader from piling up more problems
        return self._constructor.construct_object(node, deep=True)

    def _sequence(self, node: yaml.SequenceNode, path: tuple[str, ...]) -> YamlList:
        result = YamlList(_line(node))
        if not self._check_tag(node, _SEQ_TAG):
            return result
        for item in node.value:
            result.append(self.build(item, path))
            result.item_lines.append(_line(item))
            result.texts.append(item.value if isinstance(item, yaml.ScalarNode) else None)
        return result

    def _mapping(self, node: yaml.MappingNode, path: tuple[str, ...]) -> YamlMap:
        result = YamlMap(_line(node))
        if not self._check_tag(node, _MAP_TAG):
            return result
        merged: list[YamlMap] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged.extend(self._merge_sources(value_node, path))
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.issues.append(YamlIssue(_line(key_node), "a mapping key must be a plain string"))
                continue
            key = str(key_node.value)
            if key in result:
                self.duplicates.append(DuplicateKey(path, key, _line(key_node), result.key_lines[key]))
                continue
            result[key] = self.build(value_node, (*path, key))
            result.key_lines[key] = _line(key_node)
            result.value_lines[key] = _line(value_node)
            if isinstance(value_node, yaml.ScalarNode):
                result.texts[key] = str(value_node.value)
        # YAML merge keys: explicit keys win, then earlier merge sources win over later ones.
        for source in merged:
            for key, value in source.items():
                if key not in result:
                    result[key] = value
                    result.key_lines[key] = source.key_lines[key]
                    result.value_lines[key] = source.value_lines[key]
                    if key in source.texts:
                        result.texts[key] = source.texts[key]
        return result

    def _merge_sources(self, node: yaml.Node, path: tuple[str, ...]) -> list[YamlMap]:
        candidates = node.value if isinstance(node, yaml.SequenceNode) else [node]
        sources = []
        for candidate in candidates:
            value = self.build(candidate, path)
            if isinstance(value, YamlMap):
                sources.append(value)
            else:
                self.issues.append(YamlIssue(_line(candidate), "a merge key (<<) must refer to a mapping"))
        return sources
