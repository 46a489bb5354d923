"""Secrets flow sideways: provider answer -> encrypted store and/or a user's command.

Passwords and tokens are write-once: MiniMax returns them only in the answer to create or
rotate. They go straight from that answer to here and never into the model, plan, state
or logs (those see ``fingerprint()`` only). The store is a JSON file beside the state,
mode 0600, each value sealed with AES-256-GCM under the key from the env variable named
by ``secrets.key_env``, with ``address/field`` as associated data so a value cannot be
moved to another account unnoticed. The file also holds a key check (a truncated
HMAC of a fixed label under the key: it reveals nothing about the key), so a store sealed
with one key refuses to be opened with another instead of silently mixing keys. Each
entry records the ``subject_id`` of the account it was issued for: an account's secrets
are dropped when that account is deleted or replaced, never because a record was.
``secrets.command`` additionally receives each new secret as one JSON object on stdin
(Vault, a cloud secret manager, CI secrets...), without the encryption key or the API keys
in its environment, and its stderr is never shown when it holds any part of a secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import shlex
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.errors import SecretsError
from reconciler.fsutil import load_json, version_problem, write_private_atomic

FIELDS = ("token", "password")
_STORE_VERSION = 1  # what ``save`` writes
_COMMAND_TIMEOUT_S = 60
_KEY_CHECK_LABEL = b"reconciler secrets key check"
# A command's stderr holding this many consecutive characters of a secret is withheld.
_LEAK_WINDOW = 8


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


class SecretStore:
    """The encrypted file of secrets, read once and rewritten atomically on every change."""

    def __init__(
        self, path: Path, key: bytes | None, *, key_env: str = "RECONCILER_SECRET_KEY"
    ) -> None:
        """Read the store; a key that is not the one it was sealed with is refused here.

        ``key_env`` only names the key's variable in that error. A store opened without a
        key can still be listed, pruned and saved (its key check is kept as it is). An
        older store without a key check gains one on the next save with a key.
        """
        self.path = path
        self.key = key
        self._key_check: str | None = None
        self._entries: dict[str, dict[str, dict[str, str]]] = self._read()
        if key is not None and not self._sealed_with(key):
            raise SecretsError(
                f"{key_env} is not the key this secrets store ({path}) was sealed with; "
                "use the original key"
            )

    def _read(self) -> dict[str, dict[str, dict[str, str]]]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise SecretsError(
                f"cannot read the secrets store {self.path}: {exc.strerror or exc}"
            ) from None
        data = load_json(raw, str(self.path), SecretsError)
        entries = data.get("secrets") if isinstance(data, dict) else None
        if not isinstance(entries, dict):
            raise SecretsError(f"{self.path} is not a reconciler secrets store")
        version = version_problem(data.get("version"), _STORE_VERSION)
        if version:
            raise SecretsError(f"{self.path}: {version}")
        for address, fields in entries.items():
            if not _well_formed(fields):
                raise SecretsError(f"{self.path}: the entry for {address} is malformed")
        check = data.get("key_check")
        if check is not None and not isinstance(check, str):
            raise SecretsError(f"{self.path}: the key check is malformed")
        self._key_check = check
        return entries

    def _sealed_with(self, key: bytes) -> bool:
        """Whether ``key`` is the store's key: by its key check, else by trial decryption.

        A store written before key checks existed is accepted when it is empty or when
        at least one of its secrets decrypts under ``key``; otherwise its first save would
        seal the new key's check over secrets only the old key opens.
        """
        if self._key_check is not None:
            return hmac.compare_digest(self._key_check.encode(), _check_of(key).encode())
        sealed = [(a, f) for a, fields in self._entries.items() for f in fields]
        return not sealed or any(self._open(key, a, f) is not None for a, f in sealed)

    def _open(self, key: bytes, address: str, field: str) -> str | None:
        """The plaintext of one stored value, or None when it does not decrypt."""
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        try:
            blob = base64.b64decode(self._entries[address][field]["ciphertext"], validate=True)
            if len(blob) < 12 + 16:  # nonce + GCM tag
                return None
            return AESGCM(key).decrypt(blob[:12], blob[12:], _aad(address, field)).decode()
        except (InvalidTag, KeyError, TypeError, ValueError):
            return None

    def put(
        self,
        address: str,
        field: str,
        value: str,
        issued_at: str,
        subject_id: str | None = None,
    ) -> None:
        """Seal ``value`` as ``field`` of ``address``, noting the account it belongs to."""
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # lazy: slow import

        if self.key is None:
            raise SecretsError("no encryption key: cannot store secrets")
        nonce = os.urandom(12)
        sealed = AESGCM(self.key).encrypt(nonce, value.encode(), _aad(address, field))
        entry = {"ciphertext": base64.b64encode(nonce + sealed).decode(), "issued_at": issued_at}
        if subject_id is not None:
            entry["subject_id"] = subject_id
        self._entries.setdefault(address, {})[field] = entry

    def get(self, address: str, field: str) -> str:
        if field not in self._entries.get(address, {}):
            raise SecretsError(f"no {field} stored for {address}")
        if self.key is None:
            raise SecretsError("no encryption key: cannot decrypt secrets")
        value = self._open(self.key, address, field)
        if value is None:
            raise SecretsError(
                f"cannot decrypt the {field} of {address}: wrong key, or the store was altered"
            )
        return value

    def has(self, address: str) -> bool:
        return address in self._entries

    def subjects(self, address: str) -> set[str]:
        """The subject_ids the secrets at ``address`` were issued for ("" where unrecorded)."""
        return {entry.get("subject_id", "") for entry in self._entries.get(address, {}).values()}

    def forget_if_other(self, address: str, subject_id: str) -> bool:
        """Drop what ``address`` holds for another (or an unknown) account; True if any."""
        return self._drop(address, lambda held: held != subject_id)

    def forget_deleted(self, address: str, subject_id: str) -> bool:
        """Drop what ``address`` holds for ``subject_id``, an account now deleted; True if any.

        Entries of another account stay: they may be the only copy of a live account's
        token (one whose create answer was lost, or one dropped from the state).
        """
        return self._drop(address, lambda held: held in (subject_id, None))

    def _drop(self, address: str, doomed: Callable[[str | None], bool]) -> bool:
        """Drop the fields of ``address`` whose subject_id is ``doomed``; empty addresses go."""
        fields = self._entries.get(address)
        if not fields:
            return False
        kept = {name: e for name, e in fields.items() if not doomed(e.get("subject_id"))}
        if len(kept) == len(fields):
            return False
        if kept:
            self._entries[address] = kept
        else:
            del self._entries[address]
        return True

    def save(self) -> None:
        check = _check_of(self.key) if self.key is not None else self._key_check
        body: dict[str, Any] = {"version": 1}
        if check is not None:
            body["key_check"] = check
        body["secrets"] = dict(sorted(self._entries.items()))
        try:
            write_private_atomic(
                self.path, (json.dumps(body, indent=2, ensure_ascii=False) + "\n").encode()
            )
        except OSError as exc:
            raise SecretsError(
                f"cannot write the secrets store {self.path}: {exc.strerror or exc}"
            ) from None
        self._key_check = check


def _well_formed(fields: Any) -> bool:
    """An address's entry: sealed fields, each noting as text when and for whom if at all.

    The ciphertext itself is checked when it is opened (a damaged one is "cannot decrypt").
    """
    return isinstance(fields, dict) and all(
        isinstance(entry, dict)
        and all(isinstance(entry.get(note, ""), str) for note in ("issued_at", "subject_id"))
        for entry in fields.values()
    )


def _check_of(key: bytes) -> str:
    """What the store records to recognise its key: 16 hex of an HMAC of a fixed label."""
    return hmac.new(key, _KEY_CHECK_LABEL, hashlib.sha256).hexdigest()[:16]


def _aad(address: str, field: str) -> bytes:
    return f"{address}/{field}".encode()


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
