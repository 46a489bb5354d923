"""Strict YAML reading: values plus where each one came from.

First stage of the config flow. PyYAML silently keeps the last of two equal keys and turns
``no``, ``off`` or ``0123`` into booleans and numbers; users get neither surprise here. We
compose the node tree ourselves, refuse duplicate keys, and keep for every value its file,
line and raw text, so that every later error (schema, semantic, merge) can name
``file:line`` and suggest quoting a scalar YAML 1.1 read as something else. Floats become
``Decimal`` from their source text so money is never rounded through binary floats.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.errors import ConfigIssue

Path = tuple[str | int, ...]

# libyaml's parser composes the same nodes (with marks) about 10x faster than pure Python.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR_TAG = "tag:yaml.org,2002:str"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_KIND_BY_TAG = {
    "tag:yaml.org,2002:bool": "boolean",
    "tag:yaml.org,2002:int": "number",
    _FLOAT_TAG: "number",
    "tag:yaml.org,2002:timestamp": "date",
    "tag:yaml.org,2002:null": "null",
}
_CORE_TAGS = {"str", "int", "float", "bool", "null", "timestamp", "binary"}


@dataclass(frozen=True)
class Location:
    """Where a value was written: file, line of its key (or list item), raw scalar text."""

    file: str
    line: int
    raw: str | None = None
    yaml_kind: str | None = None  # set when a plain scalar was typed by YAML (boolean, number...)
    path: Path | None = None  # its path inside its own file (list indices differ once merged)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


Locations = dict[Path, Location]


@dataclass(frozen=True)
class YamlDocument:
    """One parsed file: its data and the location of every value in it."""

    file: str
    data: Any
    locations: Locations
    issues: tuple[ConfigIssue, ...] = ()  # duplicate keys: reported, but the rest still checked


def format_path(path: Path) -> str:
    """Render a path the way users write it: ``minimax.cn-main.sub_accounts[2].status``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def display_path(locations: Locations, path: Path) -> str:
    """``path`` of the merged document as written in the file it came from.

    Once files are merged, ``sub_accounts[3]`` may be the second item of the second file;
    an error must name ``sub_accounts[1]``, which is what the user finds at that line.
    """
    for cut in range(len(path), 0, -1):
        location = locations.get(path[:cut])
        if location is not None and location.path is not None:
            return format_path((*location.path, *path[cut:]))
    return format_path(path)


def load_yaml(file: str, text: str) -> YamlDocument:
    """Parse one YAML document strictly; syntax errors raise ``YamlError``, duplicates are noted."""
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or str(exc)
        context = f" ({exc.context})" if exc.context else ""
        raise YamlError(
            [ConfigIssue(file, line, "", f"YAML syntax error: {problem}{context}")]
        ) from None
    except yaml.YAMLError as exc:
        raise YamlError([ConfigIssue(file, None, "", f"YAML error: {exc}")]) from None
    except RecursionError:
        raise YamlError([_too_deep(file)]) from None
    if node is None:
        raise YamlError(
            [ConfigIssue(file, 1, "", "the file is empty; expected a mapping with 'version: 1'")]
        )
    builder = _Builder(file)
    try:
        data = builder.build(node, (), node.start_mark.line + 1)
    except RecursionError:
        raise YamlError([_too_deep(file)]) from None
    if not isinstance(data, dict):
        raise YamlError(
            [ConfigIssue(file, node.start_mark.line + 1, "", "the top level must be a mapping")]
        )
    return YamlDocument(file, data, builder.locations, tuple(builder.issues))


def _too_deep(file: str) -> ConfigIssue:
    return ConfigIssue(file, None, "", "YAML nested too deeply to be a reconciler config")


class YamlError(Exception):
    """Issues found while reading YAML; the config loader folds them into a ConfigError."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


class _Builder:
    """Turns a composed node tree into plain values, recording locations on the way."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.locations: Locations = {}
        self.issues: list[ConfigIssue] = []
        self._constructor = SafeConstructor()

    def build(self, node: Node, path: Path, line: int) -> Any:
        if isinstance(node, MappingNode):
            self.locations[path] = Location(self.file, line, path=path)
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            self.locations[path] = Location(self.file, line, path=path)
            return [
                self.build(item, (*path, i), item.start_mark.line + 1)
                for i, item in enumerate(node.value)
            ]
        assert isinstance(node, ScalarNode)
        plain = not node.style  # the C parser says "" where the Python one says None
        kind = _KIND_BY_TAG.get(node.tag) if plain else None
        self.locations[path] = Location(self.file, line, node.value, kind, path)
        try:
            return self._scalar(node)
        except (yaml.YAMLError, ValueError, LookupError, TypeError, OverflowError):
            # An impossible date (2026-13-45), ``!!int abc`` or an unknown tag (``!foo``,
            # ``!!python/...``): report it and go on with the raw text, never a traceback.
            if kind:
                message = f'{node.value} is read by YAML as a {kind}; quote it: "{node.value}"'
            elif node.tag.startswith("tag:yaml.org,2002:") and node.tag[18:] in _CORE_TAGS:
                message = f"{node.value!r} is not a valid !!{node.tag[18:]}"
            else:
                message = f"unsupported YAML tag {node.tag!r}; remove it"
            self.issues.append(ConfigIssue(self.file, line, format_path(path), message))
            return node.value

    def _mapping(self, node: MappingNode, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, ScalarNode):
                self.issues.append(
                    ConfigIssue(
                        self.file, line, format_path(path), "mapping keys must be plain text"
                    )
                )
                continue
            key = str(key_node.value)
            if key in first_line:
                where = format_path((*path, key))
                self.issues.append(
                    ConfigIssue(
                        self.file,
                        line,
                        where,
                        f"duplicate key '{key}' (first at line {first_line[key]})",
                    )
                )
                continue
            first_line[key] = line
            result[key] = self.build(value_node, (*path, key), line)
        return result

    def _scalar(self, node: ScalarNode) -> Any:
        if node.tag == _STR_TAG:
            return node.value
        if node.tag == _FLOAT_TAG:
            try:
                return Decimal(node.value.replace("_", ""))
            except InvalidOperation:
                return Decimal(str(self._constructor.construct_object(node)))
        return self._constructor.construct_object(node)
