"""Secrets flow sideways: provider answer -> encrypted store and/or a user's command.

Passwords and tokens are write-once: MiniMax returns them only in the answer to create or
rotate. They go straight from that answer to here and never into the model, plan, state
or logs (those see ``fingerprint()`` only). The store is a JSON file beside the state,
mode 0600, each value sealed with AES-256-GCM under the key from the env variable named
by ``secrets.key_env``, with ``address/field`` as associated data so a value cannot be
moved to another account unnoticed. ``secrets.command`` additionally receives each new
secret as one JSON object on stdin (Vault, a cloud secret manager, CI secrets...).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import shlex
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.errors import SecretsError
from reconciler.fsutil import write_private_atomic

FIELDS = ("token", "password")
_COMMAND_TIMEOUT_S = 60


def fingerprint(secret: str) -> str:
    """First 8 hex of SHA-256: enough to tell tokens apart, useless to an attacker."""
    return hashlib.sha256(secret.encode()).hexdigest()[:8]


def generate_key() -> str:
    """A new random 256-bit key, URL-safe base64 (what ``secrets keygen`` prints)."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def secrets_path(state_path: str | Path) -> Path:
    """The store lives beside the state: ``state/reconciler.json`` -> ``state/reconciler.secrets.json``."""
    path = Path(state_path)
    return path.with_name(f"{path.stem}.secrets.json")


def load_key(key_env: str, environ: Mapping[str, str]) -> bytes | None:
    """The key from ``key_env``, or None when unset; a malformed key is an error."""
    text = environ.get(key_env, "").strip()
    if not text:
        return None
    # Strict: the lenient decoder silently drops stray characters, so a damaged key could
    # still decode to 32 bytes. Both base64 alphabets are accepted (openssl prints + and /).
    standard = text.translate(str.maketrans("-_", "+/"))
    try:
        key = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise SecretsError(
            f"{key_env} does not hold a valid key (expected 32 bytes, URL-safe base64): "
            "make one with `reconciler secrets keygen`"
        )
    return key


@dataclass(frozen=True)
class NewSecret:
    """What a create or rotate handed back, on its way to the store and the command."""

    address: str
    account: str
    subject_id: str
    token: str
    issued_at: str
    password: str | None = None

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


class SecretStore:
    """The encrypted file of secrets, read once and rewritten atomically on every change."""

    def __init__(self, path: Path, key: bytes | None) -> None:
        self.path = path
        self.key = key
        self._entries: dict[str, dict[str, dict[str, str]]] = self._read()

    def _read(self) -> dict[str, dict[str, dict[str, str]]]:
        try:
            data = json.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise SecretsError(f"cannot read the secrets store {self.path}: {exc}") from None
        entries = data.get("secrets") if isinstance(data, dict) else None
        if not isinstance(entries, dict):
            raise SecretsError(f"{self.path} is not a reconciler secrets store")
        for address, fields in entries.items():
            if not isinstance(fields, dict) or not all(
                isinstance(f, dict) for f in fields.values()
            ):
                raise SecretsError(f"{self.path}: the entry for {address} is malformed")
        return entries

    def put(self, address: str, field: str, value: str, issued_at: str) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # lazy: slow import

        if self.key is None:
            raise SecretsError("no encryption key: cannot store secrets")
        nonce = os.urandom(12)
        sealed = AESGCM(self.key).encrypt(nonce, value.encode(), _aad(address, field))
        self._entries.setdefault(address, {})[field] = {
            "ciphertext": base64.b64encode(nonce + sealed).decode(),
            "issued_at": issued_at,
        }

    def get(self, address: str, field: str) -> str:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        entry = self._entries.get(address, {}).get(field)
        if entry is None:
            raise SecretsError(f"no {field} stored for {address}")
        if self.key is None:
            raise SecretsError("no encryption key: cannot decrypt secrets")
        try:
            blob = base64.b64decode(entry["ciphertext"], validate=True)
            if len(blob) < 12 + 16:  # nonce + GCM tag
                raise ValueError("too short")
            return AESGCM(self.key).decrypt(blob[:12], blob[12:], _aad(address, field)).decode()
        except (InvalidTag, KeyError, TypeError, ValueError):
            raise SecretsError(
                f"cannot decrypt the {field} of {address}: wrong key, or the store was altered"
            ) from None

    def has(self, address: str) -> bool:
        return address in self._entries

    def remove(self, address: str) -> None:
        self._entries.pop(address, None)

    def save(self) -> None:
        body = {"version": 1, "secrets": dict(sorted(self._entries.items()))}
        try:
            write_private_atomic(
                self.path, (json.dumps(body, indent=2, ensure_ascii=False) + "\n").encode()
            )
        except OSError as exc:
            raise SecretsError(
                f"cannot write the secrets store {self.path}: {exc.strerror or exc}"
            ) from None


def _aad(address: str, field: str) -> bytes:
    return f"{address}/{field}".encode()


def run_secrets_command(command: str, secret: NewSecret) -> None:
    """Hand one secret to the user's command on stdin; raise with its (redacted) stderr."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise SecretsError(f"secrets.command cannot be split: {exc}") from None
    if not argv:
        raise SecretsError("secrets.command is empty")
    try:
        result = subprocess.run(
            argv,
            input=secret.as_json(),
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
        for value in (secret.token, secret.password):
            if value:
                stderr = stderr.replace(value, "[REDACTED]")
        tail = [_shorten(line) for line in stderr.strip().splitlines()[-3:]]
        detail = (": " + " | ".join(tail)) if tail else ""
        if result.returncode < 0:
            ended = f"was killed by signal {-result.returncode}"
        else:
            ended = f"exited with status {result.returncode}"
        raise SecretsError(f"secrets.command {ended}{detail}")


def _shorten(line: str, limit: int = 300) -> str:
    return line if len(line) <= limit else line[:limit] + "..."
