"""Strict YAML reading: values plus where each one came from.

First stage of the config flow. PyYAML silently keeps the last of two equal keys and turns
``no``, ``off`` or ``0123`` into booleans and numbers; users get neither surprise here. We
compose the node tree ourselves, refuse duplicate keys, and keep for every value its file,
line and raw text, so that every later error (schema, semantic, merge) can name
``file:line`` and suggest quoting a scalar YAML 1.1 read as something else. Floats become
``Decimal`` from their source text so money is never rounded through binary floats.

Hostile or mistyped input stays an issue at ``file:line``, never a traceback or a hang:
aliases may share a block, but their expansion is capped (a "billion laughs" file stops
at ``MAX_ALIAS_VALUES``), an alias inside its own anchor is refused, and numbers YAML 1.1
would silently misread (``190:20:30`` in base 60, ``0200`` in octal) or that are too long
to be a setting are refused rather than used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.echo import KEY_SHOWN_MAX, fits, shown_name, shown_plain, shown_value
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
_INT_TAG = "tag:yaml.org,2002:int"

# Values built a second time through aliases, at most: a config may share a block with
# ``&anchor``/``*alias`` (a budget for 10,000 accounts is ~30,000), but nested aliases can
# expand exponentially ("billion laughs": 8 lines, a billion values).
MAX_ALIAS_VALUES = 100_000
# No setting takes a number longer than this; Python refuses int() beyond 4,300 digits,
# and printing a 4,000-digit value back helps nobody.
MAX_NUMBER_CHARS = 64
_OCTAL = re.compile(r"[-+]?0[0-7_]+")


@dataclass(frozen=True)
class Location:
    """Where a value was written: file, line of its key (or list item), raw scalar text."""

    file: str
    line: int
    raw: str | None = None
    yaml_kind: str | None = None  # set when a plain scalar was typed by YAML (boolean, number...)
    path: Path | None = None  # its path inside its own file (list indices differ once merged)
    reported: bool = False  # YAML itself could not read the value: an issue names it already

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


def shown_key(key: str) -> str:
    """A mapping key for a message (``echo.shown_name``: not when it may be a pasted secret)."""
    return shown_name(key, "key", KEY_SHOWN_MAX)


def format_path(path: Path) -> str:
    """Render a path the way users write it: ``minimax.cn-main.sub_accounts[2].status``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = _path_part(part)
            out += f".{text}" if out else text
    return out


def _path_part(key: str) -> str:
    """A key as written in a path, escaped if it hides a character, left out if it may be
    a pasted secret."""
    shown = shown_key(key)
    if shown[:1] not in ("'", '"'):
        return f"<key of {len(key)} characters>"
    return key if shown[1:-1] == key else shown


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


def issue_at(locations: Locations, path: Path, message: str) -> ConfigIssue:
    """An issue at the line where ``path`` (of the merged document) was written."""
    location = locations[path]
    return ConfigIssue(location.file, location.line, display_path(locations, path), message)


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
    except yaml.reader.ReaderError as exc:
        raise YamlError([_unreadable_character(file, text, exc)]) from None
    except yaml.YAMLError as exc:
        message = " ".join(str(exc).split())  # one line, like every other issue
        raise YamlError([ConfigIssue(file, None, "", f"YAML error: {message}")]) from None
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
    except _AliasBomb as exc:
        message = (
            f"aliases expand to more than {MAX_ALIAS_VALUES} values; "
            "share smaller blocks or write the values out"
        )
        raise YamlError([ConfigIssue(file, exc.line, "", message)]) from None
    if not isinstance(data, dict):
        raise YamlError(
            [ConfigIssue(file, node.start_mark.line + 1, "", "the top level must be a mapping")]
        )
    return YamlDocument(file, data, builder.locations, tuple(builder.issues))


def _unreadable_character(file: str, text: str, exc: yaml.reader.ReaderError) -> ConfigIssue:
    """A NUL or another control character: one line at ``file:line``, not PyYAML's two."""
    code = exc.character if isinstance(exc.character, int) else None
    # The C reader counts bytes, the Python one characters: find the character instead.
    where = text.find(chr(code)) if code is not None else -1
    line = text.count("\n", 0, where) + 1 if where >= 0 else None
    what = f"the control character U+{code:04X}" if code is not None else "a character"
    return ConfigIssue(file, line, "", f"{what} is not allowed in YAML; remove it")


def _too_deep(file: str) -> ConfigIssue:
    return ConfigIssue(file, None, "", "YAML nested too deeply to be a reconciler config")


class _AliasBomb(Exception):
    """Aliases expanded past ``MAX_ALIAS_VALUES``; ``line`` is where the expansion began."""

    def __init__(self, line: int) -> None:
        self.line = line
        super().__init__(line)


class YamlError(Exception):
    """Issues found while reading YAML; the config loader folds them into a ConfigError."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


class _Builder:
    """Turns a composed node tree into plain values, recording locations on the way.

    The composer shares one node among its anchor and every alias of it, so a node met a
    second time is an alias being expanded: its values count against the cap, its issues
    were noted the first time, and a collection met again while it is still being built is
    an alias inside its own anchor.
    """

    def __init__(self, file: str) -> None:
        self.file = file
        self.locations: Locations = {}
        self.issues: list[ConfigIssue] = []
        self._constructor = SafeConstructor()
        self._built: set[int] = set()  # ids of the nodes built so far
        self._open: set[int] = set()  # ids of the collections being built
        self._expanded = 0  # values built again through aliases
        self._depth = 0  # > 0 while an alias is being expanded
        self._expansion_line = 0  # where the outermost expansion under way began

    def build(self, node: Node, path: Path, line: int) -> Any:
        key = id(node)
        again = key in self._built
        if again:
            if key in self._open:
                self.locations[path] = Location(self.file, line, path=path, reported=True)
                self._note(line, path, "an alias refers to its own anchor")
                return None
            self._expanded += 1
            if self._expanded > MAX_ALIAS_VALUES:
                raise _AliasBomb(self._expansion_line if self._depth else line)
            if not self._depth:
                self._expansion_line = line
        else:
            self._built.add(key)
        if isinstance(node, ScalarNode):
            return self._located_scalar(node, path, line)
        self.locations[path] = Location(self.file, line, path=path)
        self._open.add(key)
        self._depth += int(again)
        if isinstance(node, MappingNode):
            value: Any = self._mapping(node, path)
        else:
            assert isinstance(node, SequenceNode)
            value = [
                self.build(item, (*path, i), item.start_mark.line + 1)
                for i, item in enumerate(node.value)
            ]
        self._depth -= int(again)
        self._open.discard(key)
        return value

    def _note(self, line: int, path: Path, message: str) -> None:
        """Record an issue, once: a value reached again through an alias was noted before."""
        if not self._depth:
            self.issues.append(ConfigIssue(self.file, line, format_path(path), message))

    def _located_scalar(self, node: ScalarNode, path: Path, line: int) -> Any:
        plain = not node.style  # the C parser says "" where the Python one says None
        # The kind YAML gave the text by itself (``no`` is a boolean); ``!!int x`` is tagged.
        kind = _KIND_BY_TAG.get(node.tag) if plain and _implicit(node) else None
        location = Location(self.file, line, node.value, kind, path)
        self.locations[path] = location
        try:
            problem = _misread(node, plain=plain)
            if problem is None:
                return self._scalar(node)
        except Exception:  # any way a scalar fails to construct is one issue
            # An impossible date (2026-13-45), ``!!int abc``, ``!!timestamp x`` (PyYAML fails
            # with an AttributeError there) or an unknown tag (``!foo``, ``!!python/...``):
            # report it and go on with the raw text, never a traceback.
            problem = _unreadable(node, kind)
        self.locations[path] = replace(location, reported=True)
        self._note(line, path, problem)
        return node.value

    def _mapping(self, node: MappingNode, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, ScalarNode):
                self._note(line, path, "mapping keys must be plain text")
                continue
            key = str(key_node.value)
            if key in first_line:
                message = f"duplicate key {shown_key(key)} (first at line {first_line[key]})"
                self._note(line, (*path, key), message)
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


def _implicit(node: ScalarNode) -> bool:
    """Whether YAML would give this plain text its tag by itself (not an explicit ``!!tag``)."""
    resolved: str = _RESOLVER.resolve(ScalarNode, node.value, (True, False))  # type: ignore[no-untyped-call]
    return resolved == node.tag


_RESOLVER = yaml.resolver.Resolver()


def _misread(node: ScalarNode, *, plain: bool) -> str | None:
    """Why a number must not be used as YAML 1.1 reads it, or None when it may be."""
    text = node.value
    if node.tag == _INT_TAG and len(text) > MAX_NUMBER_CHARS:  # even ``!!int "0x..."``
        return f"a number of {len(text)} characters is out of range (quote it if it is text)"
    if not plain or node.tag not in (_INT_TAG, _FLOAT_TAG) or len(text) > MAX_NUMBER_CHARS:
        return None  # a long float is a Decimal: safe, and the schema judges it
    if ":" in text:  # 190:20:30 is 685230 to YAML 1.1, a time or a ratio to a person
        if not fits(text):
            return f"this {len(text)}-character value is read by YAML as a base-60 number; quote it"
        value = SafeConstructor().construct_object(node)
        return f'{text} is read by YAML as the base-60 number {value}; quote it: "{text}"'
    if node.tag == _INT_TAG and _OCTAL.fullmatch(text):  # 0200 is 128 to YAML 1.1
        value, decimal = SafeConstructor().construct_object(node), int(text.replace("_", ""))
        if value != decimal and not fits(text):
            return f"this {len(text)}-character value is read by YAML as an octal number; quote it"
        if value != decimal:
            return (
                f"{text} is read by YAML as the octal number {value}, not {decimal}; "
                f'quote it if it is text: "{text}"'
            )
    return None


def _unreadable(node: ScalarNode, kind: str | None) -> str:
    """The message for a scalar YAML cannot construct; long values are not echoed."""
    if kind:
        if not fits(node.value):
            return f"this value is read by YAML as a {kind} that is not valid; quote it"
        return f'{shown_plain(node.value)} is read by YAML as a {kind}; quote it: "{node.value}"'
    if node.tag.startswith("tag:yaml.org,2002:") and node.tag[18:] in _CORE_TAGS:
        return f"{shown_value(node.value)} is not a valid !!{node.tag[18:]}"
    return f"unsupported YAML tag {shown_value(node.tag)}; remove it"
