"""The state backend a config names: ``state.backend`` keyed to a constructor.

``local`` (the default) is a file beside the config; ``postgres`` is imported only when
named, since psycopg is an optional extra.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from reconciler.model import StateSettings
from reconciler.state.backend import StateBackend


def _local(settings: StateSettings, environ: Mapping[str, str]) -> StateBackend:
    from reconciler.state.local import LocalBackend

    return LocalBackend(settings.path)


def _postgres(settings: StateSettings, environ: Mapping[str, str]) -> StateBackend:
    from reconciler.state.postgres import PostgresBackend

    return PostgresBackend.from_settings(settings, environ)


BACKENDS: dict[str, Callable[[StateSettings, Mapping[str, str]], StateBackend]] = {
    "local": _local,
    "postgres": _postgres,
}


def open_backend(settings: StateSettings, environ: Mapping[str, str]) -> StateBackend:
    """The backend ``settings`` names (the schema allows no other name)."""
    return BACKENDS[settings.backend](settings, environ)
