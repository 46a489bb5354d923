"""A fast yes/no answer to "is this document valid?", compiled from the same JSON Schema.

``schema.py`` runs jsonschema to find *every* problem with its ``file:line``; on a
10,000-account config that costs about half of a ``plan`` (and ~80 ms just to import
jsonschema). Valid configs are the common case, so the schema is first compiled into
nested closures that only answer True or False; jsonschema runs (and is imported) only
when they say False. The schema stays the single source of truth: the closures are
built from it, for the keywords it uses, with jsonschema's meaning (draft 2020-12, and
``schema.py``'s own ``pattern`` and ``minimum``). A schema using any other keyword is not
compiled at all, and every document then goes to jsonschema. When unsure, a closure says
False: a slow answer, never a wrong one.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

Check = Callable[[Any], bool]

# Keywords that never judge a value.
_ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "$comment", "title", "description"})
_TYPES: dict[str, Check] = {
    "null": lambda v: v is None,
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: (
        not isinstance(v, bool)
        and (isinstance(v, int) or (isinstance(v, float) and v.is_integer()))
    ),
    "number": lambda v: not isinstance(v, bool) and isinstance(v, numbers.Number),
    "string": lambda v: isinstance(v, str),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


class Unsupported(Exception):
    """The schema uses something this compiler does not know: use jsonschema alone."""


def compile_schema(root: dict[str, Any]) -> Check:
    """A check of ``root``; raises ``Unsupported`` for a schema it cannot judge exactly."""
    return _Compiler(root).compile(root)


def compile_definition(root: dict[str, Any], name: str) -> Check:
    """A check of ``root``'s ``$defs/name`` (its references resolved in ``root``)."""
    definition = root.get("$defs", {}).get(name)
    if definition is None:
        raise Unsupported(f"$defs/{name}")
    return _Compiler(root).compile(definition)


def ecma_pattern(pattern: str) -> str:
    """``pattern`` with JSON Schema's (ECMA 262) meaning of a final ``$``: the very end."""
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        return pattern[:-1] + "\\Z"
    return pattern


class _Compiler:
    def __init__(self, root: dict[str, Any]) -> None:
        self._root = root
        self._refs: dict[str, Check] = {}

    def compile(self, schema: Any) -> Check:
        if schema is True:
            return lambda value: True
        if schema is False:
            return lambda value: False
        if not isinstance(schema, dict):
            raise Unsupported(f"schema {schema!r}")
        checks = [
            self._keyword(name, argument, schema)
            for name, argument in schema.items()
            if name not in _ANNOTATIONS and not name.startswith("x-")
        ]
        present = [check for check in checks if check is not None]
        return lambda value: all(check(value) for check in present)

    def _keyword(self, name: str, argument: Any, schema: dict[str, Any]) -> Check | None:
        builder = getattr(self, "_" + name.lstrip("$"), None)
        if builder is None:
            raise Unsupported(name)
        check: Check | None = builder(argument, schema)
        return check

    def _ref(self, ref: str, schema: dict[str, Any]) -> Check:
        if not ref.startswith("#/$defs/") or "/" in ref[8:] or "~" in ref:
            raise Unsupported(ref)
        if ref not in self._refs:
            self._refs[ref] = lambda value: False  # a recursive use sees this until built
            target = self._root.get("$defs", {}).get(ref[8:])
            if target is None:
                raise Unsupported(ref)
            built = self.compile(target)
            self._refs[ref] = built
        return lambda value: self._refs[ref](value)

    def _type(self, types: Any, schema: dict[str, Any]) -> Check:
        names = [types] if isinstance(types, str) else types
        if not isinstance(names, list) or any(name not in _TYPES for name in names):
            raise Unsupported(f"type {types!r}")
        checks = [_TYPES[name] for name in names]
        return lambda value: any(check(value) for check in checks)

    def _properties(self, properties: Any, schema: dict[str, Any]) -> Check:
        compiled = {key: self.compile(sub) for key, sub in properties.items()}

        def check(value: Any) -> bool:
            if not isinstance(value, dict):
                return True
            return all(sub(value[key]) for key, sub in compiled.items() if key in value)

        return check

    def _additionalProperties(self, extra: Any, schema: dict[str, Any]) -> Check:
        if "patternProperties" in schema:
            raise Unsupported("patternProperties")
        known = frozenset(schema.get("properties", {}))
        sub = self.compile(extra)

        def check(value: Any) -> bool:
            if not isinstance(value, dict):
                return True
            return all(sub(item) for key, item in value.items() if key not in known)

        return check

    def _propertyNames(self, names: Any, schema: dict[str, Any]) -> Check:
        sub = self.compile(names)
        return lambda value: not isinstance(value, dict) or all(sub(key) for key in value)

    def _required(self, required: Any, schema: dict[str, Any]) -> Check:
        keys = list(required)
        return lambda value: not isinstance(value, dict) or all(key in value for key in keys)

    def _items(self, items: Any, schema: dict[str, Any]) -> Check:
        if "prefixItems" in schema:
            raise Unsupported("prefixItems")
        sub = self.compile(items)
        return lambda value: not isinstance(value, list) or all(sub(item) for item in value)

    def _enum(self, values: Any, schema: dict[str, Any]) -> Check:
        if not isinstance(values, list) or not all(_scalar(v) for v in values):
            raise Unsupported("enum of containers")
        return lambda value: any(_equal(value, each) for each in values)

    def _const(self, constant: Any, schema: dict[str, Any]) -> Check:
        if not _scalar(constant):
            raise Unsupported("const container")
        return lambda value: _equal(value, constant)

    def _pattern(self, pattern: str, schema: dict[str, Any]) -> Check:
        search = re.compile(ecma_pattern(pattern)).search
        return lambda value: not isinstance(value, str) or search(value) is not None

    def _minLength(self, length: int, schema: dict[str, Any]) -> Check:
        return lambda value: not isinstance(value, str) or len(value) >= length

    def _maxLength(self, length: int, schema: dict[str, Any]) -> Check:
        return lambda value: not isinstance(value, str) or len(value) <= length

    def _minimum(self, minimum: Any, schema: dict[str, Any]) -> Check:
        return lambda value: _not_number(value) or (_ordered(value) and value >= minimum)

    def _maximum(self, maximum: Any, schema: dict[str, Any]) -> Check:
        return lambda value: _not_number(value) or (_ordered(value) and value <= maximum)


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float)


def _equal(value: Any, expected: Any) -> bool:
    """jsonschema's ``equal`` for a scalar ``expected``: True and 1 differ."""
    if isinstance(value, bool) or isinstance(expected, bool):
        return value is expected
    if isinstance(value, str) or isinstance(expected, str):
        return bool(value == expected)
    return not isinstance(value, dict | list) and bool(value == expected)


def _not_number(value: Any) -> bool:
    return isinstance(value, bool) or not isinstance(value, numbers.Number)


def _ordered(value: Any) -> bool:
    """A number that compares: a NaN is refused (``schema.py`` reports it)."""
    return not (isinstance(value, Decimal | float) and value != value)
