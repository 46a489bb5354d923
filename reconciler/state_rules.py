"""Config rules of the ``state`` block: each key acts for its backend, and the DSN stays put.

A config rule, run with the others after the schema (``config_rules``). ``path`` acts
only for the ``local`` backend and ``dsn_env``, ``schema`` and ``workspace`` only for
``postgres``: a key the chosen backend would ignore is an error at its line, since a
reviewer reading it would believe it acts. The DSN variable may hold the database's
password, and the config (which a pull request controls) names it: so no provider section
may name it as its key (reconciler would send the connection string to that provider's
host), whichever backend is chosen, and it may not be the secrets store's key variable.
"""

from __future__ import annotations

from typing import Any

from reconciler.credential_rules import PROVIDERS
from reconciler.errors import ConfigIssue
from reconciler.model import DEFAULT_DSN_ENV, DEFAULT_KEY_ENV
from reconciler.schema import matches_definition
from reconciler.yamlsource import Locations, issue_at

# The keys that act for each backend; the others are refused under it.
BACKEND_KEYS = {"local": ("path",), "postgres": ("dsn_env", "schema", "workspace")}


def state_issues(doc: dict[str, Any], locations: Locations) -> list[ConfigIssue]:
    """Keys of another backend, and the DSN variable named where a key would go."""
    state = doc.get("state")
    state = state if isinstance(state, dict) else {}
    backend = state.get("backend", "local")
    issues = []
    if backend in BACKEND_KEYS:
        for other, keys in BACKEND_KEYS.items():
            for key in keys:
                if other != backend and key in state and ("state", key) in locations:
                    message = (
                        f"acts only with backend: {other}; with backend: {backend} it would do "
                        f"nothing. Remove it (or set backend: {other})"
                    )
                    issues.append(issue_at(locations, ("state", key), message))
    return issues + _dsn_variable_issues(doc, state, locations)


def _dsn_variable_issues(
    doc: dict[str, Any], state: dict[str, Any], locations: Locations
) -> list[ConfigIssue]:
    declared = state.get("dsn_env")
    valid = isinstance(declared, str) and matches_definition("env_name", declared)
    dsn_env = declared if valid else DEFAULT_DSN_ENV
    where = f"at {locations[('state', 'dsn_env')]}" if valid else "by default"
    issues = []
    for provider in PROVIDERS:
        sections = doc.get(provider.section)
        for alias, body in sections.items() if isinstance(sections, dict) else ():
            if isinstance(body, dict) and body.get(provider.key_field) == dsn_env:
                message = (
                    f"{dsn_env} holds the state database's connection string (state.dsn_env, "
                    f"{where}), "
                    f"password included: reconciler would send it to {provider.title}. Name "
                    f"the variable that holds the {provider.title} key"
                )
                path = (provider.section, alias, provider.key_field)
                issues.append(issue_at(locations, path, message))
    secrets = doc.get("secrets")
    key_env = secrets.get("key_env") if isinstance(secrets, dict) else None
    if valid and declared == (key_env if isinstance(key_env, str) else DEFAULT_KEY_ENV):
        message = (
            f"{declared} is the secrets store's key variable; the state database's connection "
            "string needs its own variable"
        )
        issues.append(issue_at(locations, ("state", "dsn_env"), message))
    return issues
