"""Config loading: YAML files -> one validated ``Desired``, or every reason it is not.

First stage of the flow. Expands ``-c`` paths (a directory means its ``*.yaml``/``*.yml``,
sorted), reads each file strictly (``yamlsource``), merges them keeping each value's
``file:line`` (a group may be declared in one file and its sub-accounts listed in
several; the same setting twice is an error naming both places), validates against the
JSON Schema, applies the rules a schema cannot express (``config_rules``: names, accounts
declared twice, the state path, where credentials may go), and builds the model.
Credentials are looked up separately (``required_env``) because ``validate`` needs none.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path as FsPath
from typing import Any

from reconciler.config_rules import expand_home, rule_issues
from reconciler.discovery import config_files, left_out_names
from reconciler.echo import shown_plain, shown_value
from reconciler.errors import ConfigError, ConfigIssue, CredentialsError
from reconciler.model import (
    Budget,
    CreditCheck,
    Desired,
    DesiredSubAccount,
    MinimaxGroup,
    SafetySettings,
    SecretsSettings,
    StateSettings,
    Status,
    UseapiAccount,
    XaiTeam,
)
from reconciler.names import identity
from reconciler.schema import schema_issues
from reconciler.yamlsource import (
    Locations,
    Path,
    YamlDocument,
    YamlError,
    format_path,
    load_yaml,
)

_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")  # visible ASCII: what a credential may hold


def load_config(
    paths: Sequence[str],
    environ: Mapping[str, str] | None = None,
    *,
    default_dir: str | None = None,
) -> Desired:
    """Read, merge and validate the config; raise ``ConfigError`` with every reason.

    Without ``paths`` the config is discovered (``RECONCILER_CONFIG`` in ``environ``, else
    the default names). A relative ``state.path`` is resolved against the directory of the
    file that declares it; when no file declares one, the default is relative to
    ``default_dir`` (the current directory when None).
    """
    environ = os.environ if environ is None else environ
    files, left_out = config_files(paths, environ)
    merged: dict[str, Any] = {}
    locations: Locations = {}
    issues: list[ConfigIssue] = []
    digests: dict[str, str] = {}
    parsed = 0
    for file in files:
        text = _read_text(file, digests)
        if isinstance(text, ConfigIssue):
            issues.append(text)
            continue
        try:
            document = load_yaml(file, text)
        except YamlError as exc:
            issues.extend(exc.issues)
            continue
        parsed += 1
        issues.extend(document.issues)
        issues.extend(_version_issues(document))
        # Every file carries its own ``version: 1`` (checked above), so it is not merged.
        body = {key: value for key, value in document.data.items() if key != "version"}
        _Merger(merged, locations, document.locations, issues).mapping(body, (), ())
    if not parsed:
        raise ConfigError(issues)
    merged = {"version": 1, **merged}
    issues.extend(schema_issues(merged, locations, files[0]))
    issues.extend(rule_issues(merged, locations, environ))
    if issues:
        raise ConfigError(issues)
    state_path = _state_path(merged, locations, default_dir, environ)
    desired = _build(merged, files, digests, state_path)
    return replace(desired, warnings=_left_out_warnings(left_out))


def _left_out_warnings(left_out: list[str]) -> tuple[str, ...]:
    """Reading a directory is not recursive (like ``terraform``): say what that left out."""
    if not left_out:
        return ()
    return (
        f"{left_out_names(left_out)}: not read, being in a subdirectory of a config directory "
        "(a directory means only its own *.yaml and *.yml files). Name the subdirectory with "
        "another -c, or move the files up",
    )


def _read_text(file: str, digests: dict[str, str]) -> str | ConfigIssue:
    """A config file's text, or why it cannot be read, at ``file:line`` for a non-UTF-8 byte.

    The SHA-256 of the bytes read goes into ``digests``: a saved plan pins each file by it.
    """
    try:
        data = FsPath(file).read_bytes()
    except OSError as exc:
        return ConfigIssue(file, None, "", f"cannot read: {exc.strerror or exc}")
    digests[file] = hashlib.sha256(data).hexdigest()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        message = f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8"
        return ConfigIssue(file, line, "", message)


def _version_issues(document: YamlDocument) -> list[ConfigIssue]:
    """Each file must say ``version: 1``, so a file of another version is never misread."""
    if "version" not in document.data:
        message = "required key 'version' is missing (write 'version: 1')"
        return [ConfigIssue(document.file, 1, "version", message)]
    value = document.data["version"]
    location = document.locations[("version",)]
    if (type(value) is int and value == 1) or location.reported:
        return []  # a value YAML could not read is reported already
    if location.raw is None:
        found = "a mapping" if isinstance(value, dict) else "a list"
    else:
        found = shown_plain(location.raw) if location.yaml_kind else shown_value(location.raw)
    message = f"must be 1, the only config version that exists (found {found})"
    return [ConfigIssue(document.file, location.line, "version", message)]


class _Merger:
    """Merges one file into the accumulated document, carrying locations along."""

    def __init__(
        self,
        merged: dict[str, Any],
        merged_locations: Locations,
        file_locations: Locations,
        issues: list[ConfigIssue],
    ) -> None:
        self.merged = merged
        self.merged_locations = merged_locations
        self.file_locations = file_locations
        self.issues = issues

    def mapping(self, source: dict[str, Any], src: Path, dst: Path) -> None:
        target = self._at(dst)
        for key, value in source.items():
            s, d = (*src, key), (*dst, key)
            if key not in target:
                target[key] = self._copy(value, s, d)
            elif isinstance(target[key], dict) and isinstance(value, dict):
                self.mapping(value, s, d)
            elif isinstance(target[key], list) and isinstance(value, list):
                start = len(target[key])
                target[key].extend(
                    self._copy(item, (*s, i), (*d, start + i)) for i, item in enumerate(value)
                )
            else:
                here, first = self.file_locations[s], self.merged_locations[d]
                self.issues.append(
                    ConfigIssue(
                        here.file, here.line, format_path(s), f"declared twice (first at {first})"
                    )
                )

    def _at(self, path: Path) -> dict[str, Any]:
        node: Any = self.merged
        for part in path:
            node = node[part]
        return node  # type: ignore[no-any-return]

    def _copy(self, value: Any, src: Path, dst: Path) -> Any:
        self.merged_locations[dst] = self.file_locations[src]
        if isinstance(value, dict):
            return {k: self._copy(v, (*src, k), (*dst, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self._copy(v, (*src, i), (*dst, i)) for i, v in enumerate(value)]
        return value


def parse_duration(text: str) -> timedelta:
    """``90d`` or ``12h`` (validated by the schema) as a timedelta."""
    amount = int(text[:-1])
    return timedelta(days=amount) if text.endswith("d") else timedelta(hours=amount)


_STATE_KEYS = ("backend", "dsn_env", "schema", "workspace")  # path is resolved apart


def _state_path(
    doc: dict[str, Any], locations: Locations, default_dir: str | None, environ: Mapping[str, str]
) -> str:
    """Where the state lives: relative to the file that says so, else to ``default_dir``.

    So ``plan -c /repo/accounts`` run from anywhere reads the same state as from ``/repo``.
    A leading ``~`` is the home directory, as in a shell (the rules refused an unknown one).
    """
    declared = doc.get("state", {}).get("path")
    if declared is None:
        default = StateSettings().path
        return str(FsPath(default_dir, default)) if default_dir else default
    declared = expand_home(declared, environ) or declared
    where = FsPath(locations[("state", "path")].file).parent
    return declared if FsPath(declared).is_absolute() else str(where / declared)


def _build(
    doc: dict[str, Any], files: list[str], digests: dict[str, str], state_path: str
) -> Desired:
    state = doc.get("state", {})
    secrets = doc.get("secrets", {})
    safety = doc.get("safety", {})
    defaults_state, defaults_secrets, defaults_safety = (
        StateSettings(),
        SecretsSettings(),
        SafetySettings(),
    )
    return Desired(
        files=tuple(files),
        file_digests={file: digests[file] for file in files},
        digest=config_digest(doc),
        state=replace(
            defaults_state,
            **{k: v for k, v in state.items() if k in _STATE_KEYS},
            path=state_path,
        ),
        safety=SafetySettings(
            Decimal(str(safety.get("max_delete_percent", defaults_safety.max_delete_percent))),
            safety.get("min_managed", defaults_safety.min_managed),
        ),
        secrets=SecretsSettings(
            secrets.get("key_env", defaults_secrets.key_env), secrets.get("command")
        ),
        minimax={alias: _minimax_group(alias, g) for alias, g in doc.get("minimax", {}).items()},
        xai={alias: _xai_team(alias, t) for alias, t in doc.get("xai", {}).items()},
        useapi={alias: _useapi(alias, u) for alias, u in doc.get("useapi", {}).items()},
    )


def _minimax_group(alias: str, group: dict[str, Any]) -> MinimaxGroup:
    accounts = tuple(_sub_account(alias, a) for a in group.get("sub_accounts", []))
    extra = _base_url(group)
    return MinimaxGroup(
        alias,
        group["group_id"],
        group["api_key_env"],
        sub_accounts=accounts,
        unmanaged=group.get("unmanaged", "warn"),
        **extra,
    )


def _sub_account(alias: str, account: dict[str, Any]) -> DesiredSubAccount:
    rotate = account.get("rotate_every")
    budget = account.get("budget")
    return DesiredSubAccount(
        alias=alias,
        name=identity(account["name"]),
        status=Status(account.get("status", "enabled")),
        token_generation=account.get("token_generation", 0),
        rotate_every=parse_duration(rotate) if rotate else None,
        rotate_every_text=rotate,
        prevent_destroy=account.get("prevent_destroy", False),
        budget=Budget(Decimal(str(budget["monthly_cash"])), budget.get("on_exceed", "disable"))
        if budget
        else None,
    )


def _xai_team(alias: str, team: dict[str, Any]) -> XaiTeam:
    limit = team.get("spending_limit")
    extra = _base_url(team)
    monthly = Decimal(str(limit["monthly_usd"])) if limit else None
    return XaiTeam(alias, team["team_id"], team["management_key_env"], monthly_usd=monthly, **extra)


def _useapi(alias: str, account: dict[str, Any]) -> UseapiAccount:
    checks = tuple(
        CreditCheck(c.get("account"), Decimal(str(c["min_credits"])))
        for c in account.get("checks", [])
    )
    extra = _base_url(account)
    return UseapiAccount(alias, account["token_env"], checks=checks, **extra)


def _base_url(section: dict[str, Any]) -> dict[str, str]:
    """``base_url`` without a trailing slash, when given (else the model's default applies)."""
    return {"base_url": section["base_url"].rstrip("/")} if "base_url" in section else {}


def config_digest(doc: dict[str, Any]) -> str:
    """SHA-256 of the merged config's canonical JSON: a saved plan pins the config by it."""
    canonical = json.dumps(
        doc, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def resolve_env(names: Iterable[str], environ: Mapping[str, str]) -> dict[str, str]:
    """Values of ``names``, stripped; raises naming every unusable one, before any provider call.

    A credential travels in an HTTP header (``Authorization: Bearer ...``), which carries
    only visible ASCII: a key with a line break inside (a two-line key file, a bad paste) or
    a non-ASCII character would otherwise fail deep in the HTTP client, whose error quotes
    the header, key included. The message names the variables, never their values.
    """
    names = list(dict.fromkeys(names))  # may be a generator; each name once
    values = {name: environ.get(name, "").strip() for name in names}
    missing = [name for name in names if not values[name]]
    garbled = [name for name in names if values[name] and not _HEADER_SAFE.fullmatch(values[name])]
    problems = []
    if missing:
        problems.append(
            f"environment variable{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"{'are' if len(missing) > 1 else 'is'} unset or empty; the config needs "
            f"{'them' if len(missing) > 1 else 'it'} (export {missing[0]}=...)"
        )
    if garbled:
        several = len(garbled) > 1
        problems.append(
            f"{', '.join(garbled)} {'hold' if several else 'holds'} characters an HTTP header "
            "cannot carry (a line break, a space or a non-ASCII character): paste the "
            f"{'keys' if several else 'key'} again"
        )
    if problems:
        raise CredentialsError("\n".join(problems))
    return values
