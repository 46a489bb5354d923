"""Secrets flow sideways: provider answer -> encrypted store (here) and/or a user's command.

Passwords and tokens are write-once: MiniMax returns them only in the answer to create or
rotate. They go straight from that answer to here and never into the model, plan, state
or logs (those see ``fingerprint()`` only). The store follows the state backend (for the
local one, a JSON file beside the state, mode 0600, and its journal while an apply runs:
one line per changed address, so sealing costs O(1)). Each value is sealed with
AES-256-GCM under the key from the env variable named by ``secrets.key_env``, with
``address/field`` as associated data so a value cannot be moved to another account
unnoticed. The store also holds a key check (a truncated HMAC of a fixed label under the
key: it reveals nothing about the key), so a store sealed with one key refuses to be
opened with another instead of silently mixing keys. Each entry records the
``subject_id`` of the account it was issued for: an account's secrets are dropped when
that account is deleted or replaced, never because a record was. The store names the
``lineage`` of the state it belongs to, as the state records its key check: a store
missing or replaced is refused before planning (``continuity.py``). ``secrets_command``
hands each new secret to ``secrets.command``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.errors import SecretsError
from reconciler.state.backend import ChangeLog, Commit, DocumentStore, Snapshot
from reconciler.state.sealed import SECRETS_LAYOUT, sealed_fields, well_formed

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FIELDS = ("token", "password")
_KEY_CHECK_LABEL = b"reconciler secrets key check"


def fingerprint(secret: str) -> str:
    """First 8 hex of SHA-256: enough to tell tokens apart, useless to an attacker."""
    return hashlib.sha256(secret.encode()).hexdigest()[:8]


def generate_key() -> str:
    """A new random 256-bit key, URL-safe base64 (what ``secrets keygen`` prints)."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


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


class SecretStore:
    """The encrypted secrets, read once; changes journaled during an apply, else saved whole."""

    def __init__(
        self,
        storage: DocumentStore | Path,
        key: bytes | None,
        *,
        key_env: str = "RECONCILER_SECRET_KEY",
    ) -> None:
        """Read the store; a key that is not the one it was sealed with is refused here.

        ``storage`` is where the backend keeps the sealed secrets (a path: the local file
        and its journal). ``key_env`` only names the key's variable in that error. A store
        opened without a key can still be listed, pruned and saved (its key check is kept as
        it is). An older store without a key check gains one on the next save with a key.
        """
        if isinstance(storage, Path):
            from reconciler.state.journaled import JournaledFile

            storage = JournaledFile(storage, SECRETS_LAYOUT)
        self.storage = storage
        self.key = key
        self._key_check: str | None = None
        self._lineage: str | None = None
        self.found = False  # whether the backend keeps a store at all (a file, journal lines)
        self._serial = 0
        self._changed: set[str] = set()  # addresses changed since the last save or commit
        self._log: ChangeLog | None = None
        self._aead: AESGCM | None = None
        self._entries: dict[str, dict[str, dict[str, str]]] = self._read()
        if key is not None:
            self.check_key(key, key_env)

    def check_key(self, key: bytes, key_env: str) -> None:
        """``SecretsError`` when ``key`` is not the one this store was sealed with."""
        if not self._sealed_with(key):
            raise SecretsError(
                f"{key_env} is not the key this secrets store ({self.storage.describe()}) was "
                "sealed with; use the original key"
            )

    def _read(self) -> dict[str, dict[str, dict[str, str]]]:
        where = self.storage.describe()
        data = self.storage.read()
        if data is None:
            return {}
        self.found = True
        entries: dict[str, dict[str, dict[str, str]]] = data["secrets"]
        for address, fields in entries.items():
            if not well_formed(fields):
                raise SecretsError(f"{where}: the entry for {address} is malformed")
        self._key_check = data.get("key_check")
        self._lineage = data.get("lineage")
        self._serial = data.get("serial", 0)
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
        if self.key is None:
            raise SecretsError("no encryption key: cannot store secrets")
        nonce = os.urandom(12)
        sealed = self._cipher().encrypt(nonce, value.encode(), _aad(address, field))
        entry = {"ciphertext": base64.b64encode(nonce + sealed).decode(), "issued_at": issued_at}
        if subject_id is not None:
            entry["subject_id"] = subject_id
        # A new mapping, never changed in place: a fold may be writing a copy of the store.
        self._entries[address] = {**self._entries.get(address, {}), field: entry}
        self._changed.add(address)

    def _cipher(self) -> AESGCM:
        """One AES-GCM object for the store's key (built once: the key schedule is not free)."""
        if self._aead is None:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # lazy: slow import

            assert self.key is not None
            self._aead = AESGCM(self.key)
        return self._aead

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

    @property
    def key_check(self) -> str | None:
        """The key check the store records (None: never saved with a key)."""
        return self._key_check

    @property
    def holds_any(self) -> bool:
        return bool(self._entries)

    def sealed(self) -> list[tuple[str, str]]:
        """Every ``(address, field)`` the store holds a sealed value for."""
        return [(address, field) for address, fields in self._entries.items() for field in fields]

    @property
    def lineage(self) -> str | None:
        """The lineage of the state this store belongs to (None: not bound yet)."""
        return self._lineage

    def bind(self, lineage: str) -> bool:
        """Belong to the state of ``lineage`` from the next save on; True if that changes."""
        changed = self._lineage != lineage or not self.found
        self._lineage = lineage
        return changed

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
        self._changed.add(address)
        if kept:
            self._entries[address] = kept
        else:
            del self._entries[address]
        return True

    def begin(self) -> None:
        """Journal each change from now on (an apply) instead of saving the whole store."""
        check = self._check()
        try:
            self._log = self.storage.open_session(check, self._snapshot)
        except OSError as exc:
            raise SecretsError(
                f"cannot write the secrets store {self.storage.describe()}: {exc.strerror or exc}"
            ) from None

    def commit(self) -> Commit | None:
        """Journal what changed since the last commit (memory only); ``wait()`` makes it durable.

        Without ``begin`` the whole store is saved here, and None returned.
        """
        if self._log is None:
            self.save()
            return None
        commit = None
        for address in sorted(self._changed):
            self._serial += 1
            commit = self._log.record(self._serial, address, self._entries.get(address))
        self._changed.clear()
        return commit

    def end(self) -> str | None:
        """Fold the journal into the store; a problem is returned (the journal keeps all)."""
        log, self._log = self._log, None
        return log.close() if log is not None else None

    def save(self) -> None:
        """Replace the whole store (and fold in any journal)."""
        check = self._check()
        fields = sealed_fields(check, self._lineage)
        snapshot = Snapshot(fields, self._serial + 1, dict(self._entries))
        try:
            self.storage.write(snapshot)
        except OSError as exc:
            raise SecretsError(
                f"cannot write the secrets store {self.storage.describe()}: {exc.strerror or exc}"
            ) from None
        self._serial += 1
        self._key_check = check
        self.found = True
        self._changed.clear()

    def _check(self) -> str | None:
        return _check_of(self.key) if self.key is not None else self._key_check

    def _snapshot(self) -> Snapshot:
        fields = sealed_fields(self._check(), self._lineage)
        return Snapshot(fields, self._serial, dict(self._entries))


def store_key_check(key: bytes | None) -> str | None:
    """The key check a store sealed with ``key`` records (None without a key)."""
    return None if key is None else _check_of(key)


def _check_of(key: bytes) -> str:
    """What the store records to recognise its key: 16 hex of an HMAC of a fixed label."""
    return hmac.new(key, _KEY_CHECK_LABEL, hashlib.sha256).hexdigest()[:16]


def _aad(address: str, field: str) -> bytes:
    return f"{address}/{field}".encode()
