"""The secrets command: each new secret handed to ``secrets.command`` on its stdin.

Besides (or instead of) the encrypted store, users send new tokens and passwords to their
own secret manager (Vault, a cloud secret manager, CI secrets...): ``secrets.command``
receives each as one JSON object on stdin, without the encryption key or the API keys in
its environment, and its stderr is never shown when it holds any part of a secret. Run by
the actions after the state is recorded, so a failing command never loses the account.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from reconciler.errors import SecretsError

_COMMAND_TIMEOUT_S = 60
# A command's stderr holding this many consecutive characters of a secret is withheld.
_LEAK_WINDOW = 8


@dataclass(frozen=True)
class NewSecret:
    """What a create or rotate handed back, on its way to the store and the command."""

    address: str
    account: str
    subject_id: str
    token: str = field(repr=False)  # never in a repr: a log or a traceback may show it
    issued_at: str
    password: str | None = field(default=None, repr=False)

    def as_json(self) -> bytes:
        body: dict[str, Any] = {
            "address": self.address,
            "account": self.account,
            "subject_id": self.subject_id,
            "token": self.token,
        }
        if self.password is not None:
            body["password"] = self.password
        body["issued_at"] = self.issued_at
        return json.dumps(body, ensure_ascii=False).encode()


def run_secrets_command(command: str, secret: NewSecret, withheld_env: Iterable[str] = ()) -> None:
    """Hand one secret to the user's command on stdin; raise with the tail of its stderr.

    The command runs with this process's environment minus the names in ``withheld_env``
    (the encryption key, the API keys). Its stderr is left out of the error entirely when
    it holds any part of the token or the password (see ``_holds_part_of``).
    """
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise SecretsError(f"secrets.command cannot be split: {exc}") from None
    if not argv:
        raise SecretsError("secrets.command is empty")
    withheld = set(withheld_env)
    env = {name: value for name, value in os.environ.items() if name not in withheld}
    try:
        result = subprocess.run(
            argv,
            input=secret.as_json(),
            env=env,
            capture_output=True,
            timeout=_COMMAND_TIMEOUT_S,
            check=False,
        )
    except FileNotFoundError:
        raise SecretsError(f"secrets.command: {argv[0]} not found") from None
    except subprocess.TimeoutExpired:
        raise SecretsError(f"secrets.command did not finish within {_COMMAND_TIMEOUT_S}s") from None
    except OSError as exc:
        raise SecretsError(
            f"secrets.command: {argv[0]} could not start: {exc.strerror or exc}"
        ) from None
    if result.returncode != 0:
        stderr = result.stderr.decode(errors="replace")
        if _holds_part_of(stderr, [secret.token, secret.password or ""]):
            detail = " (its stderr is not shown: it contains part of a secret)"
        else:
            tail = [_shorten(line) for line in stderr.strip().splitlines()[-3:]]
            detail = (": " + " | ".join(tail)) if tail else ""
        if result.returncode < 0:
            ended = f"was killed by signal {-result.returncode}"
        else:
            ended = f"exited with status {result.returncode}"
        raise SecretsError(f"secrets.command {ended}{detail}")


def _holds_part_of(text: str, secrets: Iterable[str]) -> bool:
    """Whether ``text`` holds any ``_LEAK_WINDOW`` consecutive characters of a secret.

    A secret shorter than the window counts only as a whole. Exact-match redaction misses
    a command that prints ``token[:20]`` or a slice of the password; this does not.
    """
    windows: set[str] = set()
    for value in secrets:
        if not value:
            continue
        if len(value) < _LEAK_WINDOW:
            if value in text:
                return True
            continue
        windows.update(value[i : i + _LEAK_WINDOW] for i in range(len(value) - _LEAK_WINDOW + 1))
    if not windows:
        return False
    return any(text[i : i + _LEAK_WINDOW] in windows for i in range(len(text) - _LEAK_WINDOW + 1))


def _shorten(line: str, limit: int = 300) -> str:
    return line if len(line) <= limit else line[:limit] + "..."
