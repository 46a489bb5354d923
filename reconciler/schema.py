"""JSON Schema validation of the merged config, with errors a person can act on.

Second stage of the config flow, after ``yamlsource`` and the merge. The schemas in
``reconciler/schemas/`` are the single source of truth; this module only turns
jsonschema's errors into ``ConfigIssue`` values at ``file:line``: it picks the line of
the offending key and words every message itself (a schema's ``x-message``, else our own
words: jsonschema's quote the value). A value is shown only as ``echo`` allows (never a
long one: it may be a pasted key), never from a field marked ``x-sensitive: true``. A
scalar that YAML 1.1 typed where a string is wanted gets "quote it" when quoting makes it
valid, else what is expected. A value that YAML itself could not read was reported
already and is not judged again.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from reconciler.echo import fits, shown_plain, shown_value
from reconciler.errors import ConfigIssue
from reconciler.schema_fast import (
    Check,
    Unsupported,
    compile_definition,
    compile_schema,
    ecma_pattern,
)
from reconciler.yamlsource import Location, Locations, Path, display_path, shown_key


@cache
def load_schema(name: str) -> dict[str, Any]:
    """Read a schema shipped inside the package (``config``, ``plan``, ``state``)."""
    text = resources.files("reconciler").joinpath("schemas", f"{name}.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator(name: str) -> Any:
    import jsonschema  # lazy: costs ~150 ms at import, not needed for --help

    schema = load_schema(name)
    validator = jsonschema.validators.extend(
        jsonschema.Draft202012Validator, {"pattern": _pattern, "minimum": _minimum}
    )
    return validator(schema)


def _pattern(validator: Any, pattern: str, instance: Any, schema: dict[str, Any]) -> Any:
    """``pattern`` with JSON Schema's (ECMA 262) meaning of a final ``$``: the very end.

    Python's ``$`` also matches before a trailing newline, so ``"ci-bot\\n"`` would pass
    ``^[^\\u0000-\\u001f]+$`` and ``"90d\\n"`` the duration pattern.
    """
    import jsonschema

    if validator.is_type(instance, "string") and not re.search(_ecma(pattern), instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


_ecma = cache(ecma_pattern)


@cache
def _fast_check(name: str) -> Check | None:
    """The schema compiled into a yes/no check; None when it cannot be (jsonschema alone)."""
    try:
        return compile_schema(load_schema(name))
    except Unsupported:
        return None


def _minimum(validator: Any, minimum: Any, instance: Any, schema: dict[str, Any]) -> Any:
    """``minimum`` that reports ``.nan`` instead of raising on the Decimal comparison."""
    import jsonschema

    if isinstance(instance, Decimal) and instance.is_nan():
        yield jsonschema.ValidationError(f"{instance} is not a number")
        return
    original = jsonschema.Draft202012Validator.VALIDATORS["minimum"]  # public, unlike _keywords
    yield from original(validator, minimum, instance, schema)


def plan_document_problem(document: Any) -> str | None:
    """The first way ``document`` breaks ``plan.schema.json`` (a saved plan), or None."""
    import jsonschema

    error = jsonschema.exceptions.best_match(_validator("plan").iter_errors(document))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    return f"{where}: {error.message}" if where else error.message


def schema_issues(
    document: dict[str, Any], locations: Locations, fallback_file: str
) -> list[ConfigIssue]:
    """Every schema violation of ``document``, located; an empty list when valid.

    A valid document (the common case) is recognised by the compiled check alone; only
    an invalid one pays for jsonschema, which names every problem.
    """
    fast = _fast_check("config")
    issues: dict[tuple[str, int | None, str], ConfigIssue] = {}
    if fast is None or not fast(document):
        errors = sorted(_validator("config").iter_errors(document), key=_priority)
        for error in errors:
            for issue in _describe(error, locations, fallback_file):
                issues.setdefault((issue.file, issue.line, issue.path), issue)
    issues_list = list(issues.values())
    issues_list.extend(_money_precision_issues(document, locations, fallback_file))
    return issues_list


def _priority(error: Any) -> int:
    # A typed YAML scalar also fails enum/pattern; report the type (with "quote it") first.
    return 0 if error.validator == "type" else 1


def _locate(locations: Locations, path: Path, fallback_file: str) -> Location:
    probe = path
    while probe not in locations and probe:
        probe = probe[:-1]
    return locations.get(probe) or Location(fallback_file, 1)


def _describe(error: Any, locations: Locations, fallback_file: str) -> list[ConfigIssue]:
    path: Path = tuple(error.absolute_path)
    if path in locations and locations[path].reported:
        return []  # YAML could not read this value; that issue says why already
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = [key for key in error.instance if key not in error.schema.get("properties", {})]
        hint = f"; allowed: {', '.join(allowed)}" if allowed else ""
        return [
            _issue(locations, (*path, key), fallback_file, f"unknown key {shown_key(key)}{hint}")
            for key in extra
        ]
    if "propertyNames" in error.relative_schema_path:
        # jsonschema reports the key's own failure (pattern) at the mapping's path.
        key = error.instance
        message = error.schema.get("x-message") or "is not a valid key here"
        return [_issue(locations, (*path, key), fallback_file, f"{shown_key(key)} {message}")]
    if error.validator == "required":
        # Our own words, not jsonschema's (its wording is not an API): one issue per missing key.
        present = error.instance if isinstance(error.instance, dict) else {}
        missing = [key for key in error.validator_value if key not in present]
        message = " and ".join(repr(key) for key in missing)
        noun = "a required key" if len(missing) == 1 else "required keys"
        return [
            _issue(
                locations,
                path,
                fallback_file,
                f"{message} {'is' if len(missing) == 1 else 'are'} {noun}",
            )
        ]
    location = _locate(locations, path, fallback_file)
    message = _message(error, location)
    return [ConfigIssue(location.file, location.line, display_path(locations, path), message)]


def _issue(locations: Locations, path: Path, fallback_file: str, message: str) -> ConfigIssue:
    location = _locate(locations, path, fallback_file)
    return ConfigIssue(location.file, location.line, display_path(locations, path), message)


def _message(error: Any, location: Location) -> str:
    schema = error.schema
    # Checked first: the value may be a pasted API key, even one YAML reads as a number.
    if schema.get("x-sensitive") is True:
        return str(schema["x-message"])
    wants_string = "string" in _types(schema) or _enum_of_strings(schema)
    if location.yaml_kind and wants_string and error.validator in ("type", "enum", "const"):
        return _typed_scalar_message(error, location)
    return f"{_shown(error.instance, location)} {_expected(error)}"


def _typed_scalar_message(error: Any, location: Location) -> str:
    """A plain scalar YAML typed (``no``, ``90``, ``null``) where text is wanted.

    "Quote it" only when the quoted text is a valid value: ``name: no`` is the name "no",
    but ``rotate_every: 90`` quoted is still no duration, so that says what is expected.
    """
    raw, kind, schema = location.raw or "", location.yaml_kind, error.schema
    if kind == "null" and raw in ("", "~"):
        expected = schema.get("x-message")
        return f"has no value; it {expected}" if expected else "has no value"
    if not _valid_as(schema, raw):
        if "enum" in schema and fits(raw):
            return (
                f"{shown_value(raw)} is not one of {schema['enum']} (YAML reads {raw} as a {kind})"
            )
        expected = schema.get("x-message") or _expected(error)
        return f"{_shown(error.instance, location)} {expected}"
    if not fits(raw):
        return f"this {len(raw)}-character value is read by YAML as a {kind}; quote it"
    article = "" if kind == "null" else "a "
    return f'{raw} is read by YAML as {article}{kind}; quote it: "{raw}"'


def _valid_as(schema: dict[str, Any], text: str) -> bool:
    """Whether ``text``, as a string, is a valid value of ``schema`` (a part of the config's)."""
    return bool(_validator("config").evolve(schema=schema).is_valid(text))


def matches_definition(name: str, value: Any) -> bool:
    """Whether ``value`` is valid as ``$defs/name`` of the config schema (``env_name``...):
    by the compiled check, so a valid config never imports jsonschema."""
    return bool(_definition(name)(value))


@cache
def _definition(name: str) -> Check:
    root = load_schema("config")
    try:
        return compile_definition(root, name)
    except Unsupported:
        validator = _validator("config").evolve(schema=root["$defs"][name])
        return lambda value: bool(validator.is_valid(value))


def _expected(error: Any) -> str:
    """What the value should have been, in our words (jsonschema's quote the value)."""
    schema, validator, limit = error.schema, error.validator, error.validator_value
    if validator == "type":
        return f"is not of type {' or '.join(repr(t) for t in _types(schema))}"
    if validator == "enum":
        return f"is not one of {schema['enum']}"
    if "x-message" in schema:
        return str(schema["x-message"])
    words = {
        "minimum": f"is less than the minimum of {limit}",
        "maximum": f"is greater than the maximum of {limit}",
        "minLength": "is empty" if limit == 1 else f"is shorter than {limit} characters",
        "maxLength": f"is longer than {limit} characters",
        "const": f"must be {limit!r}",
    }
    return words.get(validator, "is not valid here")


def _shown(instance: Any, location: Location) -> str:
    """A value as the user wrote it: the YAML text of a plain scalar, else quoted; never a
    long one (``echo``)."""
    if location.yaml_kind == "null":
        return "an empty value" if location.raw in ("", "~") else "null"
    if isinstance(instance, dict):
        return "a mapping"
    if isinstance(instance, list):
        return "a list"
    if location.raw is not None:
        return shown_plain(location.raw) if location.yaml_kind else shown_value(location.raw)
    return shown_value(str(instance))


def _types(schema: dict[str, Any]) -> list[str]:
    declared = schema.get("type", [])
    return [declared] if isinstance(declared, str) else list(declared)


def _enum_of_strings(schema: dict[str, Any]) -> bool:
    enum = schema.get("enum") or []
    return bool(enum) and all(isinstance(v, str) for v in enum)


def _money_precision_issues(
    document: dict[str, Any], locations: Locations, fallback_file: str
) -> list[ConfigIssue]:
    """Numbers written as money must have at most 2 decimals (strings use the pattern)."""
    message = load_schema("config")["$defs"]["money"]["x-message"]
    issues = []
    for path, value in _money_values(document):
        if isinstance(value, Decimal | int) and not isinstance(value, bool):
            amount = Decimal(value)
            if amount.is_nan():
                continue  # reported by ``minimum``
            if amount >= 0 and (not amount.is_finite() or amount.as_tuple().exponent < -2):  # type: ignore[operator]
                location = _locate(locations, path, fallback_file)
                issues.append(
                    ConfigIssue(
                        location.file,
                        location.line,
                        display_path(locations, path),
                        f"{shown_value(location.raw or str(value))} {message}",
                    )
                )
    return issues


def _money_values(document: dict[str, Any]) -> list[tuple[Path, Any]]:
    found: list[tuple[Path, Any]] = []
    for alias, group in _mapping(document.get("minimax")).items():
        for i, account in enumerate(_list(_mapping(group).get("sub_accounts"))):
            budget = _mapping(_mapping(account).get("budget"))
            if "monthly_cash" in budget:
                path = ("minimax", alias, "sub_accounts", i, "budget", "monthly_cash")
                found.append((path, budget["monthly_cash"]))
    for alias, team in _mapping(document.get("xai")).items():
        limit = _mapping(_mapping(team).get("spending_limit"))
        if "monthly_usd" in limit:
            found.append((("xai", alias, "spending_limit", "monthly_usd"), limit["monthly_usd"]))
    return found


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
