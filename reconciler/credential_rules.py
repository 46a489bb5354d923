"""Where a credential may go: which variables a provider section may name, which hosts.

A config rule, run with the others after the schema (``config_rules``). The config comes
from a pull request, and CI runs ``plan`` on it with the keys in its environment, before
anyone reviews it: whatever the config says decides which key goes to which host. So:

* a provider section may not name the secrets store's key variable (``secrets.key_env``)
  as its credential, nor a variable another provider's section names (a MiniMax key sent
  to xAI's host);
* a ``base_url`` must be on one of its provider's own hosts or on loopback. Any other host
  (a corporate proxy, a new region) is allowed only by whoever runs reconciler, by listing
  it in ``RECONCILER_ALLOWED_HOSTS``, never by the config the pull request controls.

``validate`` applies the same rules, offline, from the same environment.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from reconciler.echo import shown_name
from reconciler.errors import ConfigIssue
from reconciler.model import DEFAULT_KEY_ENV
from reconciler.schema import matches_definition
from reconciler.yamlsource import Locations, Path, display_path, issue_at

ALLOWED_HOSTS_ENV = "RECONCILER_ALLOWED_HOSTS"


@dataclass(frozen=True)
class Provider:
    """A provider section of the config: its credential field and the hosts it answers on."""

    section: str
    title: str
    key_field: str
    hosts: tuple[str, ...]


PROVIDERS = (
    Provider(
        "minimax",
        "MiniMax",
        "api_key_env",
        ("api.minimax.chat", "api.minimaxi.com", "api.minimax.io"),
    ),
    Provider("xai", "xAI", "management_key_env", ("management-api.x.ai",)),
    Provider("useapi", "useapi.net", "token_env", ("api.useapi.net",)),
)


@dataclass(frozen=True)
class _Section:
    provider: Provider
    alias: str
    body: dict[str, Any]

    @property
    def path(self) -> Path:
        return (self.provider.section, self.alias)


def credential_issues(
    doc: dict[str, Any], locations: Locations, environ: Mapping[str, str]
) -> list[ConfigIssue]:
    """Every credential variable or host the rules above refuse, each at its line."""
    issues = _variable_issues(doc, locations)
    allowed = allowed_hosts(environ)
    for section in _sections(doc):
        issue = _host_issue(section, locations, allowed)
        if issue is not None:
            issues.append(issue)
    return issues


def allowed_hosts(environ: Mapping[str, str]) -> frozenset[str]:
    """The hosts whoever runs reconciler allows besides the providers' own (comma-separated)."""
    listed = re.split(r"[,\s]+", environ.get(ALLOWED_HOSTS_ENV, ""))
    return frozenset(_normal(host) for host in listed if host.strip())


def host_of(url: str) -> str | None:
    """The host a URL names, lower case, without brackets or a final dot; None if none."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return _normal(host) if host else None


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _normal(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def _sections(doc: dict[str, Any]) -> Iterator[_Section]:
    """Each provider section of the (not yet valid) document that is a mapping."""
    for provider in PROVIDERS:
        sections = doc.get(provider.section)
        for alias, body in sections.items() if isinstance(sections, dict) else ():
            if isinstance(body, dict):
                yield _Section(provider, alias, body)


def _variable_issues(doc: dict[str, Any], locations: Locations) -> list[ConfigIssue]:
    """The store's key variable named as a credential; one variable for two providers."""
    key_env, key_where = _store_key(doc, locations)
    first: dict[str, tuple[_Section, Path]] = {}
    issues = []
    for section in _sections(doc):
        variable = section.body.get(section.provider.key_field)
        if not isinstance(variable, str) or not matches_definition("env_name", variable):
            continue  # the schema reports a missing or malformed variable name
        path = (*section.path, section.provider.key_field)
        title = section.provider.title
        if variable == key_env:
            message = (
                f"{variable} is the secrets store's key variable (secrets.key_env{key_where}): "
                f"reconciler would send the key that opens every stored secret to {title}. "
                f"Name the variable that holds the {title} key"
            )
            issues.append(issue_at(locations, path, message))
            continue
        earlier, earlier_path = first.setdefault(variable, (section, path))
        if earlier.provider != section.provider:
            where = f"{display_path(locations, earlier_path)} at {locations[earlier_path]}"
            message = (
                f"{variable} is also {where}: one variable cannot hold a key for both "
                f"{earlier.provider.title} and {title}, and reconciler would send it to both "
                "providers' hosts. Give each provider its own variable"
            )
            issues.append(issue_at(locations, path, message))
    return issues


def _store_key(doc: dict[str, Any], locations: Locations) -> tuple[str, str]:
    """The secrets key variable, and where it is set (" at file:line", or " by default")."""
    secrets = doc.get("secrets")
    declared = secrets.get("key_env") if isinstance(secrets, dict) else None
    if isinstance(declared, str) and matches_definition("env_name", declared):
        return declared, f" at {locations[('secrets', 'key_env')]}"
    return DEFAULT_KEY_ENV, ", by default"


def _host_issue(
    section: _Section, locations: Locations, allowed: frozenset[str]
) -> ConfigIssue | None:
    url = section.body.get("base_url")
    if not isinstance(url, str) or not matches_definition("base_url", url):
        return None  # absent (the provider's default host), or refused by the schema
    host = host_of(url)
    provider = section.provider
    if host is None or host in provider.hosts or is_loopback(host) or host in allowed:
        return None
    shown = shown_name(host, "host")
    hint = host if shown.startswith("'") else "HOST"
    variable = section.body.get(provider.key_field)
    valid = isinstance(variable, str) and matches_definition("env_name", variable)
    key = f"the key in {variable}" if valid else f"the {provider.key_field} key"
    message = (
        f"{shown} is not a {provider.title} host ({', '.join(provider.hosts)}) nor loopback, "
        f"and {key} would be sent there. A config cannot allow another "
        "host (a pull request could send keys anywhere); whoever runs reconciler can, with "
        f"{ALLOWED_HOSTS_ENV}={hint} in the environment of the job"
    )
    return issue_at(locations, (*section.path, "base_url"), message)
