"""Secrets: the key, the encrypted store beside the state, and the user's secrets command.

Tokens and passwords are write-once (MiniMax shows them once), so the store must keep
them readable only with the key, refuse to be opened (and so mixed) with another key,
refuse a value moved to another account, forget what an address held for an account no
longer there, and the command must receive each one exactly as documented, without the
encryption or API keys in its environment and without ever echoing any part of a secret
back in an error message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import stat
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import SecretsError
from reconciler.secrets import SecretStore, generate_key, load_key
from reconciler.secrets_command import NewSecret, run_secrets_command
from reconciler.state.sealed import secrets_path

ENV = "RECONCILER_SECRET_KEY"
A = 'minimax.cn-main.sub_account["ci-bot"]'
B = 'minimax.cn-main.sub_account["测试账号"]'
TOKEN = "eyJhbGciOiJSUzI1NiJ9.secret-token-value-0123456789"
PASSWORD = "pa55w0rd-f00d"
ISSUED = "2026-08-01T09:30:00Z"
SUBJECT = "1766027179931476045"
OTHER_SUBJECT = "1766027179931479999"


@pytest.fixture
def key() -> bytes:
    loaded = load_key(ENV, {ENV: generate_key()})
    assert loaded is not None
    return loaded


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "reconciler.secrets.json"


def secret(password: str | None = PASSWORD) -> NewSecret:
    return NewSecret(
        address=A,
        account="ci-bot@1687256519302470",
        subject_id=SUBJECT,
        token=TOKEN,
        issued_at=ISSUED,
        password=password,
    )


# -- the key --


def test_generate_key_gives_32_random_bytes_in_url_safe_base64() -> None:
    keys = {generate_key() for _ in range(20)}

    assert len(keys) == 20
    for text in keys:
        assert len(base64.urlsafe_b64decode(text)) == 32
        assert "+" not in text and "/" not in text


def test_a_generated_key_loads_back_to_its_bytes() -> None:
    text = generate_key()

    assert load_key(ENV, {ENV: text}) == base64.urlsafe_b64decode(text)
    assert load_key(ENV, {ENV: f"  {text}\n"}) == base64.urlsafe_b64decode(text)
    assert load_key(ENV, {ENV: text.rstrip("=")}) == base64.urlsafe_b64decode(text)


def test_a_key_in_the_standard_base64_alphabet_is_accepted() -> None:
    raw = b"\xfb\xff" * 16  # encodes with '+' and '/' (as `openssl rand -base64 32` prints)
    text = base64.b64encode(raw).decode()
    assert "+" in text and "/" in text

    assert load_key(ENV, {ENV: text}) == raw


@pytest.mark.parametrize("value", [None, "", "   "])
def test_an_unset_or_empty_key_is_none(value: str | None) -> None:
    environ = {} if value is None else {ENV: value}

    assert load_key(ENV, environ) is None


@pytest.mark.parametrize(
    "value",
    [
        "not base64 at all!",
        base64.urlsafe_b64encode(b"short key").decode(),
        base64.urlsafe_b64encode(bytes(16)).decode(),
        base64.urlsafe_b64encode(bytes(64)).decode(),
        "A" * 43 + "=" * 3,
        # A valid key with a stray character: a lenient decoder would drop it and accept.
        "!" + base64.urlsafe_b64encode(bytes(range(32))).decode(),
    ],
)
def test_a_malformed_key_names_the_variable_and_keygen(value: str) -> None:
    with pytest.raises(SecretsError) as caught:
        load_key("MY_KEY", {"MY_KEY": value})

    assert "MY_KEY" in str(caught.value)
    assert "secrets keygen" in str(caught.value)
    assert value not in str(caught.value)


# -- the store --


def test_secrets_live_beside_the_state() -> None:
    assert secrets_path("state/reconciler.json") == Path("state/reconciler.secrets.json")
    assert secrets_path(Path("/srv/x/prod.json")) == Path("/srv/x/prod.secrets.json")


def test_a_stored_secret_is_read_back_by_a_new_store(key: bytes, store_path: Path) -> None:
    store = SecretStore(store_path, key)
    store.put(A, "token", TOKEN, ISSUED)
    store.put(A, "password", PASSWORD, ISSUED)
    store.put(B, "token", "second-token", ISSUED)
    store.save()

    again = SecretStore(store_path, key)

    assert again.get(A, "token") == TOKEN
    assert again.get(A, "password") == PASSWORD
    assert again.get(B, "token") == "second-token"
    assert again.has(A) and again.has(B)


def test_the_store_file_is_private_and_holds_no_plaintext(key: bytes, store_path: Path) -> None:
    store = SecretStore(store_path, key)
    store.put(A, "token", TOKEN, ISSUED)
    store.put(A, "password", PASSWORD, ISSUED)
    store.save()

    data = store_path.read_bytes()
    assert stat.S_IMODE(store_path.stat().st_mode) == 0o600
    assert TOKEN.encode() not in data
    assert PASSWORD.encode() not in data
    assert base64.b64encode(TOKEN.encode()) not in data
    body = json.loads(data)
    assert body["version"] == 1
    assert body["secrets"][A]["token"]["issued_at"] == ISSUED
    assert sorted(p.name for p in store_path.parent.iterdir()) == [store_path.name]


def test_the_same_secret_is_sealed_differently_each_time(key: bytes, store_path: Path) -> None:
    store = SecretStore(store_path, key)
    store.put(A, "token", TOKEN, ISSUED)
    store.put(B, "token", TOKEN, ISSUED)
    store.save()

    body = json.loads(store_path.read_bytes())["secrets"]
    assert body[A]["token"]["ciphertext"] != body[B]["token"]["ciphertext"]


def test_a_missing_store_is_empty(key: bytes, store_path: Path) -> None:
    store = SecretStore(store_path, key)

    assert not store.has(A)
    with pytest.raises(SecretsError, match="no token stored for"):
        store.get(A, "token")
    assert not store_path.exists()


def other_key() -> bytes:
    loaded = load_key(ENV, {ENV: generate_key()})
    assert loaded is not None
    return loaded


def rewrite(store_path: Path, change) -> None:  # type: ignore[no-untyped-def]
    body = json.loads(store_path.read_bytes())
    change(body["secrets"])
    store_path.write_text(json.dumps(body), encoding="utf-8")


def drop_key_check(store_path: Path) -> None:
    """Make the file look like one written before stores recorded their key."""
    body = json.loads(store_path.read_bytes())
    del body["key_check"]
    store_path.write_text(json.dumps(body), encoding="utf-8")


def test_a_value_sealed_under_another_key_does_not_decrypt(key: bytes, store_path: Path) -> None:
    # Only an older store (no key check) can already hold values under two keys.
    first = SecretStore(store_path, key)
    first.put(A, "token", TOKEN, ISSUED)
    first.save()
    second_key = other_key()
    elsewhere = store_path.with_name("elsewhere.json")
    second = SecretStore(elsewhere, second_key)
    second.put(B, "token", "b-token", ISSUED)
    second.save()
    drop_key_check(store_path)
    sealed_b = json.loads(elsewhere.read_bytes())["secrets"][B]

    def add_b(entries: dict[str, Any]) -> None:
        entries[B] = sealed_b

    rewrite(store_path, add_b)

    mixed = SecretStore(store_path, second_key)  # accepted: one of its secrets opens

    assert mixed.get(B, "token") == "b-token"
    with pytest.raises(SecretsError) as caught:
        mixed.get(A, "token")
    assert "cannot decrypt" in str(caught.value)
    assert A in str(caught.value)


# -- the key check --


def test_the_store_records_a_key_check_that_reveals_nothing_of_the_key(
    key: bytes, store_path: Path
) -> None:
    store = SecretStore(store_path, key)
    store.put(A, "token", TOKEN, ISSUED)
    store.save()

    body = json.loads(store_path.read_bytes())
    expected = hmac.new(key, b"reconciler secrets key check", hashlib.sha256).hexdigest()[:16]
    assert body["key_check"] == expected
    text = store_path.read_text(encoding="utf-8")
    assert base64.urlsafe_b64encode(key).decode().rstrip("=") not in text
    assert base64.b64encode(key).decode().rstrip("=") not in text
    assert key.hex() not in text


def test_the_key_check_is_recorded_even_for_an_empty_store(key: bytes, store_path: Path) -> None:
    SecretStore(store_path, key).save()

    assert "key_check" in json.loads(store_path.read_bytes())
    with pytest.raises(SecretsError, match="is not the key this secrets store"):
        SecretStore(store_path, other_key())


def test_the_original_key_opens_the_store_again(key: bytes, store_path: Path) -> None:
    store = SecretStore(store_path, key)
    store.put(A, "token", TOKEN, ISSUED)
    store.save()

    assert SecretStore(store_path, key).get(A, "token") == TOKEN


def test_a_different_key_is_refused_when_the_store_is_opened(key: bytes, store_path: Path) -> None:
    store = SecretStore(store_path, key)
    store.put(A, "token", TOKEN, ISSUED)
    store.save()
    wrong = other_key()

    with pytest.raises(SecretsError) as caught:
        SecretStore(store_path, wrong)

    assert str(caught.value) == (
        f"RECONCILER_SECRET_KEY is not the key this secrets store ({store_path}) was "
        "sealed with; use the original key"
    )
    assert base64.urlsafe_b64encode(wrong).decode().rstrip("=") not in str(caught.value)


def test_the_refusal_names_the_configured_key_variable(key: bytes, store_path: Path) -> None:
    SecretStore(store_path, key).save()

    with pytest.raises(SecretsError) as caught:
        SecretStore(store_path, other_key(), key_env="MY_SECRETS_KEY")

    assert str(caught.value).startswith("MY_SECRETS_KEY is not the key this secrets store")


def test_a_different_key_never_mixes_new_secrets_into_the_store(
    key: bytes, store_path: Path
) -> None:
    store = SecretStore(store_path, key)
    store.put(A, "token", TOKEN, ISSUED)
    store.put(A, "password", PASSWORD, ISSUED)
    store.save()
    before = store_path.read_bytes()

    with pytest.raises(SecretsError):
        SecretStore(store_path, other_key())

    assert store_path.read_bytes() == before
    assert SecretStore(store_path, key).get(A, "password") == PASSWORD


def test_a_store_opened_without_a_key_keeps_its_key_check_when_saved(
    key: bytes, store_path: Path
) -> None:
    store = SecretStore(store_path, key)
    store.put(A, "token", TOKEN, ISSUED)
    store.put(B, "token", "b-token", ISSUED)
    store.save()
    check = json.loads(store_path.read_bytes())["key_check"]

    keyless = SecretStore(store_path, None)
    assert keyless.forget_deleted(A, SUBJECT) is True  # stored without a subject_id: A's own
    keyless.save()

    assert json.loads(store_path.read_bytes())["key_check"] == check
    assert SecretStore(store_path, key).get(B, "token") == "b-token"
    with pytest.raises(SecretsError, match="is not the key this secrets store"):
        SecretStore(store_path, other_key())


def test_a_keyless_save_of_a_store_without_a_key_check_adds_none(store_path: Path) -> None:
    SecretStore(store_path, None).save()

    assert json.loads(store_path.read_bytes()) == {"version": 1, "serial": 1, "secrets": {}}


def test_an_older_store_without_a_key_check_is_accepted_and_gains_one_on_save(
    key: bytes, store_path: Path
) -> None:
    store = SecretStore(store_path, key)
    store.put(A, "token", TOKEN, ISSUED)
    store.save()
    drop_key_check(store_path)

    older = SecretStore(store_path, key)
    assert older.get(A, "token") == TOKEN
    older.save()

    assert "key_check" in json.loads(store_path.read_bytes())
    with pytest.raises(SecretsError, match="is not the key this secrets store"):
        SecretStore(store_path, other_key())


def test_an_empty_store_without_a_key_check_accepts_any_key(key: bytes, store_path: Path) -> None:
    store_path.parent.mkdir(parents=True)
    store_path.write_text('{"version": 1, "secrets": {}}', encoding="utf-8")

    store = SecretStore(store_path, key)
    store.put(A, "token", TOKEN, ISSUED)
    store.save()

    assert SecretStore(store_path, key).get(A, "token") == TOKEN


def test_an_older_store_none_of_whose_secrets_opens_refuses_the_key(
    key: bytes, store_path: Path
) -> None:
    store = SecretStore(store_path, key)
    store.put(A, "token", TOKEN, ISSUED)
    store.put(A, "password", PASSWORD, ISSUED)
    store.save()
    drop_key_check(store_path)

    with pytest.raises(SecretsError) as caught:
        SecretStore(store_path, other_key(), key_env="MY_SECRETS_KEY")

    assert "MY_SECRETS_KEY is not the key this secrets store" in str(caught.value)
    assert str(store_path) in str(caught.value)
    assert SecretStore(store_path, None).has(A)  # still openable without a key


def test_a_secret_moved_to_another_address_does_not_decrypt(key: bytes, store_path: Path) -> None:
    store = SecretStore(store_path, key)
    store.put(A, "token", TOKEN, ISSUED)
    store.put(B, "token", "b-token", ISSUED)
    store.save()

    def move(entries: dict[str, Any]) -> None:
        entries[B]["token"] = entries[A]["token"]

    rewrite(store_path, move)

    moved = SecretStore(store_path, key)
    assert moved.get(A, "token") == TOKEN
    with pytest.raises(SecretsError, match="cannot decrypt the token of"):
        moved.get(B, "token")


def test_a_token_swapped_with_the_password_does_not_decrypt(key: bytes, store_path: Path) -> None:
    store = SecretStore(store_path, key)
    store.put(A, "token", TOKEN, ISSUED)
    store.put(A, "password", PASSWORD, ISSUED)
    store.save()

    def swap(entries: dict[str, Any]) -> None:
        entries[A]["token"], entries[A]["password"] = entries[A]["password"], entries[A]["token"]

    rewrite(store_path, swap)

    with pytest.raises(SecretsError, match="cannot decrypt"):
        SecretStore(store_path, key).get(A, "token")


@pytest.mark.parametrize(
    "ciphertext",
    [
        "not base64!",
        base64.b64encode(b"short").decode(),
        base64.b64encode(bytes(40)).decode(),
        None,
    ],
)
def test_an_altered_ciphertext_is_a_clear_error(
    key: bytes, store_path: Path, ciphertext: str | None
) -> None:
    store = SecretStore(store_path, key)
    store.put(A, "token", TOKEN, ISSUED)
    store.save()

    def alter(entries: dict[str, Any]) -> None:
        entries[A]["token"]["ciphertext"] = ciphertext

    rewrite(store_path, alter)

    with pytest.raises(SecretsError, match="cannot decrypt the token of"):
        SecretStore(store_path, key).get(A, "token")


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"[]",
        b'{"version": 1}',
        b'{"secrets": {"x": []}}',
        b'{"secrets": {"x": {"token": 1}}}',
        b'{"version": 1, "key_check": 5, "secrets": {}}',
    ],
)
def test_a_corrupt_store_file_is_refused_naming_it(store_path: Path, content: bytes) -> None:
    store_path.parent.mkdir(parents=True)
    store_path.write_bytes(content)

    with pytest.raises(SecretsError) as caught:
        SecretStore(store_path, None)

    assert str(store_path) in str(caught.value)


def test_a_store_from_a_newer_reconciler_is_refused_and_never_rewritten(
    key: bytes, store_path: Path
) -> None:
    store_path.parent.mkdir(parents=True)
    store_path.write_text('{"version": 99, "secrets": {}}', encoding="utf-8")

    for opened_with in (key, None):
        with pytest.raises(SecretsError) as caught:
            SecretStore(store_path, opened_with)

        assert str(caught.value) == (
            f"{store_path}: version 99 is not 1: it was written by a newer reconciler; "
            "upgrade reconciler to read it"
        )
    assert store_path.read_text(encoding="utf-8") == '{"version": 99, "secrets": {}}'


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"secrets": {}}', "it has no version"),
        (b'{"version": "1", "secrets": {}}', 'version "1" is not 1'),
        (b'{"version": true, "secrets": {}}', "version true is not 1"),
        (b'{"version": 1.0, "secrets": {}}', "version 1.0 is not 1"),
        (b'{"version": 1, "secrets": {"x": {"token": {"subject_id": 17}}}}', "x is malformed"),
        (b'{"version": 1, "secrets": {"x": {"token": {"issued_at": []}}}}', "x is malformed"),
        (b"[" * 100_000, "nested more than 64 levels deep"),
        (b'{"version": 1, "secrets": {}, "n": ' + b"7" * 5000 + b"}", "longer than 4300 digits"),
        (b'{"version": 1, "secrets": {"\\udfff": {}}}', "unpaired UTF-16 surrogate"),
    ],
)
def test_a_store_that_is_not_one_this_reconciler_wrote_is_refused_saying_why(
    store_path: Path, content: bytes, reason: str
) -> None:
    store_path.parent.mkdir(parents=True)
    store_path.write_bytes(content)

    with pytest.raises(SecretsError) as caught:
        SecretStore(store_path, None)

    assert str(caught.value).startswith(f"{store_path}")
    assert reason in str(caught.value)
    assert store_path.read_bytes() == content


def test_a_store_path_that_cannot_be_read_says_why_without_an_errno(store_path: Path) -> None:
    store_path.mkdir(parents=True)

    with pytest.raises(SecretsError) as caught:
        SecretStore(store_path, None)

    assert str(caught.value) == f"cannot read the secrets store {store_path}: Is a directory"


def test_without_a_key_nothing_can_be_stored_or_read(key: bytes, store_path: Path) -> None:
    with pytest.raises(SecretsError, match="no encryption key"):
        SecretStore(store_path, None).put(A, "token", TOKEN, ISSUED)

    store = SecretStore(store_path, key)
    store.put(A, "token", TOKEN, ISSUED)
    store.save()
    keyless = SecretStore(store_path, None)
    assert keyless.has(A)
    with pytest.raises(SecretsError, match="no encryption key"):
        keyless.get(A, "token")


def test_a_deleted_accounts_address_is_gone_after_save(key: bytes, store_path: Path) -> None:
    store = SecretStore(store_path, key)
    store.put(A, "token", TOKEN, ISSUED, SUBJECT)
    store.put(A, "password", PASSWORD, ISSUED, SUBJECT)
    store.put(B, "token", "b-token", ISSUED, SUBJECT)
    store.save()

    assert store.forget_deleted(A, SUBJECT) is True
    assert store.forget_deleted('minimax.cn-main.sub_account["never"]', SUBJECT) is False
    store.save()

    again = SecretStore(store_path, key)
    assert not again.has(A)
    assert again.get(B, "token") == "b-token"
    with pytest.raises(SecretsError, match="no token stored"):
        again.get(A, "token")
    assert A not in store_path.read_text(encoding="utf-8")


def test_a_new_value_replaces_the_old_one(key: bytes, store_path: Path) -> None:
    store = SecretStore(store_path, key)
    store.put(A, "token", TOKEN, ISSUED)
    store.put(A, "token", "rotated", "2026-09-01T00:00:00Z")
    store.save()

    again = SecretStore(store_path, key)
    assert again.get(A, "token") == "rotated"
    assert json.loads(store_path.read_bytes())["secrets"][A]["token"]["issued_at"] == (
        "2026-09-01T00:00:00Z"
    )


# -- whose secrets they are --


def test_the_subject_id_is_stored_beside_the_ciphertext(key: bytes, store_path: Path) -> None:
    store = SecretStore(store_path, key)
    store.put(A, "token", TOKEN, ISSUED, SUBJECT)
    store.put(A, "password", PASSWORD, ISSUED, subject_id=SUBJECT)
    store.put(B, "token", "b-token", ISSUED)
    store.save()

    body = json.loads(store_path.read_bytes())["secrets"]
    assert body[A]["token"]["subject_id"] == SUBJECT
    assert body[A]["password"]["subject_id"] == SUBJECT
    assert "subject_id" not in body[B]["token"]
    assert SecretStore(store_path, key).get(A, "token") == TOKEN


def test_the_secrets_of_another_account_at_the_address_are_forgotten(
    key: bytes, store_path: Path
) -> None:
    store = SecretStore(store_path, key)
    store.put(A, "token", TOKEN, ISSUED, OTHER_SUBJECT)
    store.put(A, "password", PASSWORD, ISSUED, OTHER_SUBJECT)
    store.put(B, "token", "b-token", ISSUED, OTHER_SUBJECT)
    store.save()

    again = SecretStore(store_path, key)
    assert again.forget_if_other(A, SUBJECT) is True
    again.save()

    after = SecretStore(store_path, key)
    assert not after.has(A)
    with pytest.raises(SecretsError, match="no token stored"):
        after.get(A, "token")
    assert after.get(B, "token") == "b-token"  # other addresses are untouched


def test_the_secrets_of_the_same_account_are_kept(key: bytes, store_path: Path) -> None:
    store = SecretStore(store_path, key)
    store.put(A, "token", TOKEN, ISSUED, SUBJECT)
    store.put(A, "password", PASSWORD, ISSUED, SUBJECT)

    assert store.forget_if_other(A, SUBJECT) is False
    assert store.get(A, "token") == TOKEN
    assert store.get(A, "password") == PASSWORD


def test_secrets_stored_without_a_subject_id_are_forgotten_as_unknown(
    key: bytes, store_path: Path
) -> None:
    store = SecretStore(store_path, key)
    store.put(A, "token", TOKEN, ISSUED)

    assert store.forget_if_other(A, SUBJECT) is True
    assert not store.has(A)


def test_forgetting_an_address_with_nothing_stored_changes_nothing(
    key: bytes, store_path: Path
) -> None:
    store = SecretStore(store_path, key)
    store.put(B, "token", "b-token", ISSUED, OTHER_SUBJECT)

    assert store.forget_if_other(A, SUBJECT) is False
    assert not store.has(A)
    assert store.has(B)


def test_only_the_fields_of_another_account_are_forgotten(key: bytes, store_path: Path) -> None:
    store = SecretStore(store_path, key)
    store.put(A, "password", PASSWORD, ISSUED, OTHER_SUBJECT)
    store.put(A, "token", TOKEN, ISSUED, SUBJECT)

    assert store.forget_if_other(A, SUBJECT) is True
    assert store.get(A, "token") == TOKEN
    with pytest.raises(SecretsError, match="no password stored"):
        store.get(A, "password")


def test_a_delete_keeps_the_secrets_of_another_account_at_the_address(
    key: bytes, store_path: Path
) -> None:
    # Sealed by a create whose answer was lost: the only copy of a live account's token.
    store = SecretStore(store_path, key)
    store.put(A, "token", TOKEN, ISSUED, OTHER_SUBJECT)

    assert store.forget_deleted(A, SUBJECT) is False
    assert store.get(A, "token") == TOKEN
    assert store.subjects(A) == {OTHER_SUBJECT}


def test_subjects_name_whose_secrets_an_address_holds(key: bytes, store_path: Path) -> None:
    store = SecretStore(store_path, key)
    store.put(A, "password", PASSWORD, ISSUED, OTHER_SUBJECT)
    store.put(A, "token", TOKEN, ISSUED)

    assert store.subjects(A) == {OTHER_SUBJECT, ""}
    assert store.subjects(B) == set()


def test_a_store_opened_without_a_key_can_forget_another_accounts_secrets(
    key: bytes, store_path: Path
) -> None:
    store = SecretStore(store_path, key)
    store.put(A, "token", TOKEN, ISSUED, OTHER_SUBJECT)
    store.put(B, "token", "b-token", ISSUED, SUBJECT)
    store.save()

    keyless = SecretStore(store_path, None)
    assert keyless.forget_if_other(A, SUBJECT) is True
    keyless.save()

    again = SecretStore(store_path, key)
    assert not again.has(A)
    assert again.get(B, "token") == "b-token"


# -- the secrets command --

SINK = """
import sys
data = sys.stdin.buffer.read()
with open(sys.argv[1], "wb") as out:
    out.write(data)
"""


@pytest.fixture
def sink(tmp_path: Path) -> Path:
    """A script that writes its stdin to the file named by its first argument."""
    folder = tmp_path / "my scripts"
    folder.mkdir()
    script = folder / "sink.py"
    script.write_text(SINK, encoding="utf-8")
    return script


def script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "cmd.py"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def test_the_command_receives_one_json_object_on_stdin(sink: Path, tmp_path: Path) -> None:
    out = tmp_path / "received.json"

    run_secrets_command(f'{sys.executable} "{sink}" {out}', secret())

    received = json.loads(out.read_bytes())
    assert received == {
        "address": A,
        "account": "ci-bot@1687256519302470",
        "subject_id": SUBJECT,
        "token": TOKEN,
        "password": PASSWORD,
        "issued_at": ISSUED,
    }


def test_the_password_is_sent_only_when_there_is_one(sink: Path, tmp_path: Path) -> None:
    out = tmp_path / "received.json"

    run_secrets_command(f"{sys.executable} '{sink}' {out}", secret(password=None))

    received = json.loads(out.read_bytes())
    assert set(received) == {"address", "account", "subject_id", "token", "issued_at"}


def test_unicode_in_the_secret_reaches_the_command_as_utf8(sink: Path, tmp_path: Path) -> None:
    out = tmp_path / "received.json"
    unicode_secret = NewSecret(B, "测试账号@1", "1", TOKEN, ISSUED)

    run_secrets_command(f'{sys.executable} "{sink}" {out}', unicode_secret)

    assert json.loads(out.read_bytes().decode("utf-8"))["account"] == "测试账号@1"


def test_the_command_is_not_run_through_a_shell(sink: Path, tmp_path: Path) -> None:
    out = tmp_path / "received.json"
    marker = tmp_path / "marker"

    run_secrets_command(f'{sys.executable} "{sink}" {out} ; touch {marker}', secret())

    assert out.exists()
    assert not marker.exists()


ENV_DUMP = """
import json, os, sys
sys.stdin.read()
with open(sys.argv[1], "w", encoding="utf-8") as out:
    json.dump(dict(os.environ), out)
"""


def test_the_command_does_not_inherit_the_withheld_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, generate_key())
    monkeypatch.setenv("MINIMAX_CN_API_KEY", "sk-api-key-of-the-group")
    monkeypatch.setenv("XAI_MANAGEMENT_KEY", "xai-management-key")
    monkeypatch.setenv("VAULT_ADDR", "https://vault.example:8200")
    dump = script(tmp_path, ENV_DUMP)
    out = tmp_path / "environment.json"
    withheld = (name for name in [ENV, "MINIMAX_CN_API_KEY", "XAI_MANAGEMENT_KEY", "UNSET_X"])

    run_secrets_command(f"{sys.executable} {dump} {out}", secret(), withheld)

    seen = json.loads(out.read_text(encoding="utf-8"))
    assert ENV not in seen
    assert "MINIMAX_CN_API_KEY" not in seen
    assert "XAI_MANAGEMENT_KEY" not in seen
    assert seen["VAULT_ADDR"] == "https://vault.example:8200"  # the rest is inherited
    assert seen.get("PATH") == os.environ.get("PATH")
    assert os.environ["MINIMAX_CN_API_KEY"] == "sk-api-key-of-the-group"  # ours is intact


def test_without_withheld_names_the_command_inherits_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAULT_TOKEN", "hvs.for-the-command")
    dump = script(tmp_path, ENV_DUMP)
    out = tmp_path / "environment.json"

    run_secrets_command(f"{sys.executable} {dump} {out}", secret())

    assert json.loads(out.read_text(encoding="utf-8"))["VAULT_TOKEN"] == "hvs.for-the-command"


WITHHELD = (
    "secrets.command exited with status 3 (its stderr is not shown: it contains part of a secret)"
)


@pytest.mark.parametrize(
    "leak",
    [
        'body["token"]',
        'body["token"][:20]',
        'body["token"][-8:]',
        'body["token"][25:33]',
        'body["password"]',
        'body["password"][2:10]',
    ],
)
def test_a_stderr_holding_part_of_a_secret_is_not_shown(tmp_path: Path, leak: str) -> None:
    failing = script(
        tmp_path,
        f"""
        import json, sys
        body = json.load(sys.stdin)
        print("vault refused: " + {leak} + "...", file=sys.stderr)
        print("line two", file=sys.stderr)
        print("line three", file=sys.stderr)
        print("line four", file=sys.stderr)
        sys.exit(3)
        """,
    )

    with pytest.raises(SecretsError) as caught:
        run_secrets_command(f"{sys.executable} {failing}", secret())

    # Even though the leaking line is not in the tail, nothing of the stderr is shown.
    assert str(caught.value) == WITHHELD


def test_a_harmless_stderr_is_shown_as_its_last_three_lines(tmp_path: Path) -> None:
    failing = script(
        tmp_path,
        """
        import json, sys
        body = json.load(sys.stdin)
        print("line one", file=sys.stderr)
        print("line two", file=sys.stderr)
        print("vault: permission denied for " + body["address"], file=sys.stderr)
        print("x" * 400, file=sys.stderr)
        print("printed on stdout: " + body["token"])
        sys.exit(3)
        """,
    )

    with pytest.raises(SecretsError) as caught:
        run_secrets_command(f"{sys.executable} {failing}", secret())

    assert str(caught.value) == (
        "secrets.command exited with status 3: line two | "
        f"vault: permission denied for {A} | {'x' * 300}..."
    )


def test_seven_characters_of_a_secret_do_not_withhold_the_stderr(tmp_path: Path) -> None:
    failing = script(
        tmp_path,
        """
        import json, sys
        body = json.load(sys.stdin)
        print("token starts " + body["token"][:7] + ", password " + body["password"][:7],
              file=sys.stderr)
        sys.exit(3)
        """,
    )

    with pytest.raises(SecretsError) as caught:
        run_secrets_command(f"{sys.executable} {failing}", secret())

    assert str(caught.value) == (
        f"secrets.command exited with status 3: token starts {TOKEN[:7]}, password {PASSWORD[:7]}"
    )


def test_a_secret_shorter_than_eight_characters_withholds_the_stderr_when_whole(
    tmp_path: Path,
) -> None:
    short = NewSecret(A, "ci-bot@1", SUBJECT, TOKEN, ISSUED, password="Pw3!x")
    failing = script(
        tmp_path,
        """
        import json, sys
        print("bad password " + json.load(sys.stdin)["password"], file=sys.stderr)
        sys.exit(3)
        """,
    )

    with pytest.raises(SecretsError) as caught:
        run_secrets_command(f"{sys.executable} {failing}", short)

    assert str(caught.value) == WITHHELD


def test_a_command_killed_by_a_signal_says_so(tmp_path: Path) -> None:
    killed = script(
        tmp_path,
        """
        import os, signal, sys
        sys.stdin.read()
        os.kill(os.getpid(), signal.SIGKILL)
        """,
    )

    with pytest.raises(SecretsError, match="killed by signal 9"):
        run_secrets_command(f"{sys.executable} {killed}", secret())


def test_a_failing_command_without_stderr_still_gives_its_status(tmp_path: Path) -> None:
    silent = script(tmp_path, "import sys; sys.exit(1)\n")

    with pytest.raises(SecretsError) as caught:
        run_secrets_command(f"{sys.executable} {silent}", secret())

    assert str(caught.value) == "secrets.command exited with status 1"


def test_a_command_that_ignores_its_stdin_is_fine(tmp_path: Path) -> None:
    ignoring = script(tmp_path, "pass\n")

    run_secrets_command(f"{sys.executable} {ignoring}", secret())


def test_a_missing_program_is_not_found(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-program"

    with pytest.raises(SecretsError) as caught:
        run_secrets_command(f"{missing} --flag", secret())

    assert "not found" in str(caught.value)
    assert str(missing) in str(caught.value)


def test_a_program_that_cannot_run_says_why(tmp_path: Path) -> None:
    with pytest.raises(SecretsError) as caught:
        run_secrets_command(str(tmp_path), secret())  # a directory is not a program

    assert "could not start" in str(caught.value)
    assert str(tmp_path) in str(caught.value)
    assert "None" not in str(caught.value)


def test_an_unsplittable_command_is_a_clear_error() -> None:
    with pytest.raises(SecretsError) as caught:
        run_secrets_command('vault kv put "secret/x', secret())

    assert "secrets.command cannot be split" in str(caught.value)
    assert "quotation" in str(caught.value)


@pytest.mark.parametrize("command", ["", "   "])
def test_an_empty_command_is_a_clear_error(command: str) -> None:
    with pytest.raises(SecretsError, match=r"secrets\.command is empty"):
        run_secrets_command(command, secret())
