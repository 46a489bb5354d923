"""What any hostile input must give: reconciler's own error, or a value it can keep.

The property tests (``tests/test_properties.py``) and the reliability report
(``benchmarks/reliability.py``) run the same checks, the report over many more inputs
(from ``hostile.py``). Each check takes one input and returns whether reconciler accepted
it. A refusal must be a ``ReconcilerError`` whose message is printable and holds no
secret; what is accepted must be kept and read back: a create or rotation answer is
recorded in a state and sealed in a store, both written and read again; a state, store
or journal that reads is written back and reads the same. A broken property raises
``AssertionError`` (``SecretPrinted``, ``Unreadable``); any other exception is a crash,
for the caller to count.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from reconciler.errors import ReconcilerError
from reconciler.model import RecordedSubAccount
from reconciler.providers.http import ProviderClient, RetryPolicy
from reconciler.secrets import SecretStore, fingerprint
from reconciler.state import LocalBackend
from reconciler.testing.hostile import SECRET_PASSWORD, SECRET_TOKEN

if TYPE_CHECKING:
    import httpx

KEY = bytes(range(32))  # the store key of every check
NOW = datetime(2026, 11, 1, tzinfo=UTC)
GROUP_ID = "1687256519302470"
_ONE_TRY = RetryPolicy(attempts=1)
T = TypeVar("T")


class SecretPrinted(AssertionError):
    """A refusal's message holds a secret the input carried."""


class Unreadable(AssertionError):
    """What reconciler accepted and wrote does not read back the same."""


def _expect(holds: bool, failure: type[AssertionError], what: str) -> None:
    if not holds:
        raise failure(what)


def refused(error: ReconcilerError, *, secrets_in_input: bool = True) -> bool:
    """A refusal as it must be: printable and, where the input's secrets sit in places that
    hold real ones (a provider's answer, a config value), without them. Returns False."""
    message = str(error)
    if secrets_in_input:
        leaked = SECRET_TOKEN in message or SECRET_PASSWORD in message
        _expect(not leaked, SecretPrinted, message)
    message.encode()  # no lone surrogate reaches a terminal
    return False


def accepted(run: Callable[[], T], *, secrets_in_input: bool = True) -> T | None:
    """``run()``, or None when it refused with reconciler's own error.

    ``secrets_in_input`` False: a file reconciler writes itself, which never holds a
    secret in plaintext; hostile text in it is an edit, and may be named in a refusal.
    """
    try:
        return run()
    except ReconcilerError as error:
        refused(error, secrets_in_input=secrets_in_input)
        return None


def check_config(text: str) -> bool:
    """A config file is loaded, or refused with errors that each name their file."""
    from reconciler.config import load_config
    from reconciler.errors import ConfigError

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory, "reconciler.yaml")
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            load_config([str(path)], {})
        except ConfigError as error:
            assert all(issue.file for issue in error.issues)
            return refused(error)
    return True


def check_saved_plan(data: bytes) -> bool:
    from reconciler.saved_plan import load_saved_plan

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory, "p.json")
        path.write_bytes(data)
        return accepted(lambda: load_saved_plan(str(path)), secrets_in_input=False) is not None


def check_create_answer(body: bytes) -> bool:
    """A create answer gives an account that is recorded and sealed, and reads back."""
    created = _ask(body, lambda provider: provider.create("ci-bot"))
    if created is None:
        return False
    assert created.subject_id.isascii() and created.subject_id.isdigit()
    record = RecordedSubAccount(
        "cn-main",
        "ci-bot",
        GROUP_ID,
        created.subject_id,
        token_generation=1,
        token_issued_at=NOW,
        token_fingerprint=fingerprint(created.token),
        created_at=NOW,
    )
    _keeps(record, {"token": created.token, "password": created.password or "x"})
    return True


def check_rotate_answer(body: bytes) -> bool:
    token = _ask(body, lambda provider: provider.rotate_token("1766027179931476045"))
    if token is None:
        return False
    record = RecordedSubAccount("cn-main", "ci-bot", GROUP_ID, "1766027179931476045")
    _keeps(record, {"token": token})
    return True


def check_xai_limits(body: bytes) -> bool:
    from reconciler.providers.xai import XaiProvider

    provider = XaiProvider(
        base_url="http://127.0.0.1:9",
        team_id="t-1",
        management_key="k",
        key_env="XAI_KEY",
        policy=_ONE_TRY,
        client=_answering(body),
    )
    limits = _asked(provider, lambda xai: xai.spending_limits())
    if limits is None:
        return False
    cent = Decimal("0.01")
    for amount in (limits.soft, limits.effective, limits.hard):
        assert isinstance(amount, Decimal) and amount == amount.quantize(cent)
    return True


def check_bills_answer(body: bytes) -> bool:
    """A bills answer gives rows whose spend adds up exactly, or a provider error."""
    from datetime import date

    from reconciler.billing.spend import spend_by_spender, totals_by

    day = date(2026, 11, 1)
    rows = _ask(body, lambda provider: provider.bills(day, day))
    if rows is None:
        return False
    spend_by_spender(rows, day, day)
    for by in ("account", "model", "day"):
        totals_by(rows, by)
    return True


def check_credits_answer(body: bytes) -> bool:
    """A useapi.net credits answer gives exact credits (and what lapses when), or an error."""
    from reconciler.providers.useapi import UseapiProvider

    provider = UseapiProvider(
        base_url="http://127.0.0.1:9",
        token="k",
        token_env="USEAPI_TOKEN",
        alias="default",
        policy=_ONE_TRY,
        client=_answering(body),
    )
    credits = _asked(provider, lambda useapi: useapi.credits(None))
    if credits is None:
        return False
    credits.expiring_within(NOW, NOW.replace(year=2027))
    return True


def check_state_files(state: bytes | None, store: bytes | None, journal: bytes | None) -> bool:
    """A state directory holding these files: read, or refused; what reads writes back."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory, "reconciler.json")
        for suffix, data in (("", state), (".secrets", store), (".journal", journal)):
            if data is not None:
                name = "reconciler.secrets.json" if suffix == ".secrets" else path.name + suffix
                Path(directory, name).write_bytes(data)
        backend = LocalBackend(path)
        read = accepted(backend.read, secrets_in_input=False)
        opened = accepted(
            lambda: SecretStore(backend.sealed_secrets(), KEY), secrets_in_input=False
        )
        if opened is not None:
            _opens_each(opened)
        if read is None or opened is None:
            return False  # a command stops here, before it writes
        backend.write(read)
        again = LocalBackend(path).read()
        same = (again.lineage, again.resources) == (read.lineage, read.resources)
        _expect(same, Unreadable, "the state written back reads otherwise")
        opened.save()
        reopened = sorted(SecretStore(backend.sealed_secrets(), KEY).sealed()) == sorted(
            opened.sealed()
        )
        _expect(reopened, Unreadable, "the store written back reads otherwise")
        return True


def valid_plan() -> dict[str, Any]:
    """A saved plan as ``plan --out`` writes it (one create), for the plan generator."""
    from reconciler.model import Desired, DesiredSubAccount, MinimaxGroup
    from reconciler.planner import make_plan
    from reconciler.render import plan_to_dict

    group = MinimaxGroup("cn-main", "1", "K", sub_accounts=(DesiredSubAccount("cn-main", "a"),))
    return plan_to_dict(make_plan(Desired(minimax={"cn-main": group}), {}, NOW))


@cache
def valid_store() -> tuple[dict[str, Any], str]:
    """A store the real ``SecretStore`` wrote (one sealed token), and its key check."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory, "s.json")
        store = SecretStore(path, KEY)
        store.put('minimax.cn-main.sub_account["new"]', "token", SECRET_TOKEN, "2026-11-01")
        store.save()
        data = json.loads(path.read_text(encoding="utf-8"))
    return data, data["key_check"]


def valid_store_bytes() -> bytes:
    return json.dumps(valid_store()[0]).encode()


def _opens_each(store: SecretStore) -> None:
    """Every sealed value opens, or is refused with our error."""
    for address, field in store.sealed():
        value = accepted(lambda a=address, f=field: store.get(a, f), secrets_in_input=False)  # type: ignore[misc]
        assert value is None or isinstance(value, str)


def _keeps(record: RecordedSubAccount, secrets: dict[str, str]) -> None:
    """``record`` written to a state and its secrets sealed: both read back the same."""
    with tempfile.TemporaryDirectory() as directory:
        backend = LocalBackend(Path(directory, "reconciler.json"))
        state = backend.read()
        state.put(record)
        backend.write(state)
        same = LocalBackend(backend.path).read().resources == state.resources
        _expect(same, Unreadable, "the recorded answer does not read back")
        store = SecretStore(backend.sealed_secrets(), KEY)
        for field, value in secrets.items():
            store.put(record.address, field, value, "2026-11-01", record.subject_id)
        store.save()
        again = SecretStore(backend.sealed_secrets(), KEY)
        opens = all(again.get(record.address, f) == v for f, v in secrets.items())
        _expect(opens, Unreadable, "the sealed answer does not open again")


def _ask(body: bytes, call: Callable[[Any], T]) -> T | None:
    """``call`` on a MiniMax client whose every answer is ``body``."""
    from reconciler.providers.minimax import MinimaxProvider

    provider = MinimaxProvider(
        base_url="http://127.0.0.1:9",
        group_id=GROUP_ID,
        api_key="k",
        api_key_env="MINIMAX_API_KEY",
        policy=_ONE_TRY,
        client=_answering(body),
    )
    return _asked(provider, call)


P = TypeVar("P", bound=ProviderClient)


def _asked(provider: P, call: Callable[[P], T]) -> T | None:
    """``call(provider)``, or None when refused; the provider is closed after."""
    try:
        return accepted(lambda: call(provider))
    finally:
        provider.close()


def _answering(body: bytes) -> httpx.Client:
    import httpx

    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    return httpx.Client(base_url="http://127.0.0.1:9", transport=transport)
