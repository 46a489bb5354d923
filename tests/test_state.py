"""The local state backend: the JSON document, atomic private writes, and the OS lock.

Lock tests that need a second holder run it in a real child process (a lock held by
another process is what users meet); each child is killed in a ``finally`` and every
wait is bounded, so a regression fails fast instead of hanging the suite.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import socket
import stat
import subprocess
import sys
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.errors import LockError, StateError
from reconciler.model import RecordedSubAccount, Status
from reconciler.state import LocalBackend, StateDocument

REPO = Path(__file__).resolve().parents[1]
WAIT_S = 10

HOLDER_SCRIPT = """
import sys, time
from reconciler.state import LocalBackend
backend = LocalBackend(sys.argv[1])
with backend.lock(sys.argv[2], shared=sys.argv[3] == "shared") as info:
    print(info.id if info else "shared", flush=True)
    time.sleep(60)
"""


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "reconciler.json"


@pytest.fixture
def backend(state_path: Path) -> LocalBackend:
    return LocalBackend(state_path)


def record(name: str = "ci-bot", **changes: object) -> RecordedSubAccount:
    """A recorded sub-account; each name has its own subject_id, as MiniMax gives them."""
    fields: dict[str, object] = {
        "alias": "cn-main",
        "name": name,
        "group_id": "1687256519302470",
        "subject_id": f"17660271799{zlib.crc32(name.encode()):08d}"[:19],
        "token_generation": 1,
        "token_issued_at": datetime(2026, 8, 1, 9, 30, tzinfo=UTC),
        "token_fingerprint": "0123abcd",
        "created_at": datetime(2026, 7, 1, 12, 0, tzinfo=UTC),
        **changes,
    }
    return RecordedSubAccount(**fields)  # type: ignore[arg-type]


@contextmanager
def held_by_child(path: Path, operation: str = "apply", *, shared: bool = False) -> Iterator:
    """A child process holding the lock; yields (process, lock id or "shared")."""
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER_SCRIPT, str(path), operation, "shared" if shared else "x"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as child:
        try:
            ready, _, _ = select.select([child.stdout], [], [], WAIT_S)
            line = child.stdout.readline().strip() if ready else ""  # type: ignore[union-attr]
            if not line:
                child.kill()
                pytest.fail(f"lock holder did not start: {child.stderr.read()}")  # type: ignore[union-attr]
            yield child, line
        finally:
            child.kill()
            child.wait(timeout=WAIT_S)


def lock_refusal(backend: LocalBackend, operation: str, *, shared: bool = False) -> str:
    """The message of the LockError that taking the lock raises (fails if it is taken)."""
    with pytest.raises(LockError) as caught, backend.lock(operation, shared=shared):
        pass
    return str(caught.value)


# -- reading and writing the document --


def test_reading_a_missing_state_gives_an_empty_document_and_writes_nothing(
    backend: LocalBackend, state_path: Path
) -> None:
    state = backend.read()

    assert state.serial == 0
    assert state.resources == {}
    assert str(uuid.UUID(state.lineage)) == state.lineage
    assert not state_path.parent.exists()
    assert not backend.path.exists()


def test_each_fresh_document_has_its_own_lineage(backend: LocalBackend) -> None:
    assert backend.read().lineage != backend.read().lineage


def test_write_creates_the_directory_and_a_private_file(
    backend: LocalBackend, state_path: Path
) -> None:
    backend.write(backend.read())

    assert state_path.is_file()
    assert stat.S_IMODE(state_path.stat().st_mode) == 0o600
    assert backend.path.exists()


def test_write_makes_an_existing_world_readable_file_private(
    backend: LocalBackend, state_path: Path
) -> None:
    backend.write(backend.read())
    state_path.chmod(0o644)

    backend.write(backend.read())

    assert stat.S_IMODE(state_path.stat().st_mode) == 0o600


def test_every_write_raises_the_serial_and_keeps_the_lineage(
    backend: LocalBackend, state_path: Path
) -> None:
    state = backend.read()
    lineage = state.lineage

    backend.write(state)
    assert state.serial == 1
    again = backend.read()
    backend.write(again)
    backend.write(again)

    final = backend.read()
    assert (final.lineage, final.serial) == (lineage, 3)
    on_disk = json.loads(state_path.read_text(encoding="utf-8"))
    assert on_disk["version"] == 1
    assert on_disk["lineage"] == lineage
    assert on_disk["serial"] == 3


def test_recorded_sub_accounts_round_trip(backend: LocalBackend) -> None:
    state = backend.read()
    records = [
        record("ci-bot", status=Status.DISABLED, prevent_destroy=True),
        record("测试账号"),
        record('quote"and\\slash'),
        record("imported", status=None, token_issued_at=None, token_fingerprint=None),
        record("half-made", subject_id=None, pending=True, created_at=None, token_issued_at=None),
    ]
    for item in records:
        state.put(item)
    backend.write(state)

    loaded = backend.read().records()

    assert loaded == {item.address: item for item in records}
    assert loaded[records[3].address].status is None
    assert loaded[records[4].address].pending
    assert loaded[records[4].address].subject_id is None


def test_unicode_names_are_written_readably(backend: LocalBackend, state_path: Path) -> None:
    state = backend.read()
    state.put(record("测试账号"))
    backend.write(state)

    text = state_path.read_text(encoding="utf-8")
    assert '"name": "测试账号"' in text
    assert "\\u" not in text


def test_removed_records_are_gone_after_the_next_write(backend: LocalBackend) -> None:
    state = backend.read()
    state.put(record("a"))
    state.put(record("b"))
    backend.write(state)

    state = backend.read()
    state.remove(record("a").address)
    state.remove('minimax.cn-main.sub_account["never-there"]')
    backend.write(state)

    assert list(backend.read().records()) == [record("b").address]


# -- a state file that cannot be trusted is refused clearly --


def assert_clear(error: StateError, path: Path) -> None:
    message = str(error)
    assert str(path) in message
    assert "Traceback" not in message
    assert not re.search(r"\b[A-Z][a-zA-Z]+(Error|Exception)\b", message), message


def test_corrupt_json_is_refused_naming_the_file(backend: LocalBackend, state_path: Path) -> None:
    state_path.parent.mkdir(parents=True)
    state_path.write_text('{"version": 1, "lineage": ', encoding="utf-8")

    with pytest.raises(StateError) as caught:
        backend.read()

    assert "not valid JSON" in str(caught.value)
    assert_clear(caught.value, state_path)


def test_a_state_file_that_is_not_utf8_is_refused(backend: LocalBackend, state_path: Path) -> None:
    state_path.parent.mkdir(parents=True)
    state_path.write_bytes(b"\xff\xfe\x00garbage")

    with pytest.raises(StateError) as caught:
        backend.read()

    assert_clear(caught.value, state_path)


def test_an_unknown_version_is_refused(backend: LocalBackend, state_path: Path) -> None:
    backend.write(backend.read())
    body = json.loads(state_path.read_text(encoding="utf-8"))
    state_path.write_text(json.dumps({**body, "version": 2}), encoding="utf-8")

    with pytest.raises(StateError) as caught:
        backend.read()

    assert "version 2 is not 1" in str(caught.value)
    assert_clear(caught.value, state_path)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ([], "top level is not an object"),
        ({"version": 1, "serial": 1, "resources": {}}, "lineage is missing"),
        ({"version": 1, "lineage": "x", "resources": {}}, "serial is missing"),
        ({"version": 1, "lineage": "x", "serial": 1}, "resources is missing"),
    ],
)
def test_a_file_that_is_not_a_state_document_is_refused(
    backend: LocalBackend, state_path: Path, body: object, reason: str
) -> None:
    state_path.parent.mkdir(parents=True)
    state_path.write_text(json.dumps(body), encoding="utf-8")

    with pytest.raises(StateError) as caught:
        backend.read()

    assert "not a reconciler state file" in str(caught.value)
    assert reason in str(caught.value)
    assert_clear(caught.value, state_path)


def test_a_resource_under_the_wrong_address_is_refused(
    backend: LocalBackend, state_path: Path
) -> None:
    wrong = 'minimax.cn-main.sub_account["other-name"]'
    body = {
        "version": 1,
        "lineage": str(uuid.uuid4()),
        "serial": 4,
        "resources": {wrong: record("ci-bot").to_dict()},
    }
    state_path.parent.mkdir(parents=True)
    state_path.write_text(json.dumps(body), encoding="utf-8")

    with pytest.raises(StateError) as caught:
        backend.read()

    assert wrong in str(caught.value)
    assert record("ci-bot").address in str(caught.value)
    assert_clear(caught.value, state_path)


@pytest.mark.parametrize(
    ("address", "resource", "reason"),
    [
        ('minimax.cn-main.sub_account["x"]', {"type": "aws_instance"}, "unknown resource type"),
        ("not-an-address", {**record("x").to_dict()}, "not a sub-account address"),
        ('minimax.cn-main.sub_account["x"]', {"type": "minimax_sub_account"}, "malformed record"),
        (
            'minimax.cn-main.sub_account["x"]',
            {**record("x").to_dict(), "status": "paused"},
            "malformed record",
        ),
    ],
)
def test_malformed_resources_are_refused_naming_their_address(
    backend: LocalBackend, state_path: Path, address: str, resource: dict, reason: str
) -> None:
    body = {"version": 1, "lineage": "l", "serial": 1, "resources": {address: resource}}
    state_path.parent.mkdir(parents=True)
    state_path.write_text(json.dumps(body), encoding="utf-8")

    with pytest.raises(StateError) as caught:
        backend.read()

    assert address in str(caught.value)
    assert reason in str(caught.value)
    assert_clear(caught.value, state_path)


def test_an_unreadable_state_path_is_a_state_error(backend: LocalBackend, state_path: Path) -> None:
    state_path.mkdir(parents=True)  # a directory where the file should be

    with pytest.raises(StateError) as caught:
        backend.read()

    assert_clear(caught.value, state_path)


# -- atomic writes --


def test_a_write_leaves_no_temporary_file_behind(backend: LocalBackend, state_path: Path) -> None:
    state = backend.read()
    for _ in range(3):
        backend.write(state)

    assert sorted(p.name for p in state_path.parent.iterdir()) == ["reconciler.json"]


def test_a_failed_write_keeps_the_old_file_intact(
    backend: LocalBackend, state_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = backend.read()
    state.put(record("kept"))
    backend.write(state)
    before = state_path.read_bytes()

    def broken_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    state.put(record("lost"))
    with pytest.raises(StateError) as caught:
        backend.write(state)

    assert "No space left on device" in str(caught.value)
    assert_clear(caught.value, state_path)
    assert state_path.read_bytes() == before
    assert state.serial == 1  # not raised: nothing was written
    assert sorted(p.name for p in state_path.parent.iterdir()) == ["reconciler.json"]


def test_a_failed_write_with_a_bare_os_error_still_says_why(
    backend: LocalBackend, state_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_replace(src: object, dst: object) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", broken_replace)

    with pytest.raises(StateError) as caught:
        backend.write(backend.read())

    assert "disk on fire" in str(caught.value)
    assert "None" not in str(caught.value)
    assert not state_path.exists()


# -- the lock --


def test_an_exclusive_lock_records_who_holds_it(backend: LocalBackend) -> None:
    with backend.lock("apply") as info:
        assert info is not None
        holder = backend.holder()
        assert holder == info
        assert info.operation == "apply"
        assert info.pid == os.getpid()
        assert info.who.endswith("@" + socket.gethostname())
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", info.created)
        assert stat.S_IMODE(backend.lock_path.stat().st_mode) == 0o600

    assert backend.holder() is None  # released: nobody named any more


def test_a_lock_can_be_taken_again_after_release(backend: LocalBackend) -> None:
    with backend.lock("apply") as first:
        pass
    with backend.lock("apply") as second:
        assert second is not None and first is not None
        assert second.id != first.id


def test_a_second_exclusive_lock_names_the_holder(backend: LocalBackend, state_path: Path) -> None:
    with held_by_child(state_path, "apply") as (child, lock_id):
        message = lock_refusal(backend, "apply")

    assert str(state_path) in message
    assert f"pid {child.pid}" in message
    assert "apply" in message
    assert re.search(r"\S+@" + re.escape(socket.gethostname()), message)
    assert re.search(r"since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", message)
    assert lock_id in message
    assert f"force-unlock --force {lock_id}" in message


def test_a_plan_cannot_read_while_an_apply_holds_the_lock(
    backend: LocalBackend, state_path: Path
) -> None:
    with held_by_child(state_path, "apply") as (_, lock_id):
        message = lock_refusal(backend, "plan", shared=True)

    assert "plan cannot run now" in message
    assert lock_id in message


def test_two_plans_can_hold_the_lock_together(backend: LocalBackend, state_path: Path) -> None:
    with held_by_child(state_path, "plan", shared=True), backend.lock("plan", shared=True) as info:
        assert info is None


def test_an_apply_cannot_start_while_a_plan_reads(backend: LocalBackend, state_path: Path) -> None:
    with backend.lock("apply"):  # an earlier apply left the lock file a plan locks shared
        pass
    with held_by_child(state_path, "plan", shared=True):
        message = lock_refusal(backend, "apply")

    assert "apply cannot run now" in message
    assert "plan" in message
    assert "LOCK_ID" not in message  # no id to force-unlock: it ends by itself


def test_the_same_process_cannot_take_the_lock_twice(state_path: Path) -> None:
    with LocalBackend(state_path).lock("apply"):
        assert "import cannot run now" in lock_refusal(LocalBackend(state_path), "import")


def test_a_holder_killed_with_sigkill_frees_the_lock(
    backend: LocalBackend, state_path: Path
) -> None:
    with held_by_child(state_path, "apply") as (child, lock_id):
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=WAIT_S)

        with backend.lock("apply") as info:
            assert info is not None and info.id != lock_id


def test_a_plan_after_a_killed_apply_clears_its_stale_name(
    backend: LocalBackend, state_path: Path
) -> None:
    with held_by_child(state_path, "apply") as (child, _):
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=WAIT_S)

    with backend.lock("plan", shared=True):
        assert backend.holder() is None


def test_force_unlock_refuses_a_holder_running_on_this_host_unless_forced(
    backend: LocalBackend, state_path: Path
) -> None:
    with held_by_child(state_path, "apply") as (child, lock_id):
        with pytest.raises(LockError) as caught:
            backend.force_unlock(lock_id)
        assert f"still running on this host. Stop it (`kill {child.pid}`)" in str(caught.value)
        assert lock_id in lock_refusal(backend, "apply")  # still locked

        holder = backend.force_unlock(lock_id, force=True)

        assert holder.id == lock_id
        assert holder.pid == child.pid
        with backend.lock("apply") as info:  # while the old holder is still running
            assert info is not None and info.id != lock_id
            assert backend.holder() == info


def test_force_unlock_with_a_wrong_id_names_the_holder(
    backend: LocalBackend, state_path: Path
) -> None:
    with held_by_child(state_path, "apply") as (child, lock_id):
        with pytest.raises(LockError) as caught:
            backend.force_unlock("00000000-0000-0000-0000-000000000000")

        message = str(caught.value)
        assert "does not match" in message
        assert f"pid {child.pid}" in message
        assert lock_id in message
        assert lock_id in lock_refusal(backend, "apply")  # still locked


def test_force_unlock_when_not_locked_says_so(backend: LocalBackend) -> None:
    with pytest.raises(LockError) as caught:
        backend.force_unlock("00000000-0000-0000-0000-000000000000")

    assert "not locked" in str(caught.value)


def test_force_unlock_after_release_says_not_locked(backend: LocalBackend) -> None:
    with backend.lock("apply") as info:
        assert info is not None
        lock_id = info.id

    with pytest.raises(LockError) as caught:
        backend.force_unlock(lock_id)

    assert "not locked" in str(caught.value)


def test_force_unlock_of_a_killed_holder_says_not_locked(
    backend: LocalBackend, state_path: Path
) -> None:
    # The dead holder's name is still in the lock file, but the kernel freed the lock.
    with held_by_child(state_path, "apply") as (child, lock_id):
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=WAIT_S)

        with pytest.raises(LockError) as caught:
            backend.force_unlock(lock_id)

    assert "not locked" in str(caught.value)
    assert backend.holder() is None


def test_a_holder_whose_lock_was_forced_away_writes_nothing_and_says_so(
    state_path: Path,
) -> None:
    first = LocalBackend(state_path)
    with pytest.raises(LockError, match="apply lost the state lock"), first.lock("apply") as info:
        assert info is not None
        LocalBackend(state_path).force_unlock(info.id, force=True)
        with LocalBackend(state_path).lock("import") as again:
            assert again is not None and again.operation == "import"
            with pytest.raises(StateError, match="no longer holds the state lock"):
                first.write(StateDocument())
    assert not state_path.exists()


def test_state_document_to_json_never_holds_secret_fields() -> None:
    state = StateDocument()
    state.put(record("ci-bot"))

    body = json.loads(state.to_json())
    (resource,) = body["resources"].values()

    assert not {"token", "password", "api_key"} & set(resource)
    assert resource["token_fingerprint"] == "0123abcd"


# -- every recorded field is read strictly: a hand edit never changes what it means --


def write_body(state_path: Path, records: dict[str, object], **top: object) -> None:
    body = {"version": 1, "lineage": str(uuid.uuid4()), "serial": 4, "resources": records}
    state_path.parent.mkdir(parents=True, exist_ok=True)
    state_path.write_text(json.dumps({**body, **top}), encoding="utf-8")


def refusal(backend: LocalBackend, state_path: Path) -> str:
    """The message of the StateError reading the state raises; the file is left as it was."""
    before = state_path.read_bytes()
    with pytest.raises(StateError) as caught:
        backend.read()
    assert_clear(caught.value, state_path)
    assert state_path.read_bytes() == before
    return str(caught.value)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("alias", None, "a non-empty string"),
        ("name", 7, "a non-empty string"),
        ("group_id", "", "a string of digits"),
        ("group_id", 1687256519302470, "a string of digits"),
        ("subject_id", [1], "a string of digits"),
        ("subject_id", "17660271799３1476045", "a string of digits"),  # a full-width digit
        ("subject_id", "", "a string of digits"),
        ("status", "paused", '"enabled" or "disabled", or null'),
        ("status", "", '"enabled" or "disabled", or null'),
        ("status", True, '"enabled" or "disabled", or null'),
        ("token_generation", 1.5, "a whole number, 0 or more"),
        ("token_generation", -1, "a whole number, 0 or more"),
        ("token_generation", True, "a whole number, 0 or more"),
        ("token_generation", "2", "a whole number, 0 or more"),
        ("token_issued_at", 5, "an ISO 8601 time with a timezone"),
        ("token_issued_at", "2026-01-01T00:00:00", "an ISO 8601 time with a timezone"),
        ("token_issued_at", "2026-01-01", "an ISO 8601 time with a timezone"),
        ("created_at", "last tuesday", "an ISO 8601 time with a timezone"),
        ("token_fingerprint", 5, "a non-empty string, or null"),
        ("prevent_destroy", "false", "true or false"),
        ("prevent_destroy", 0, "true or false"),
        ("pending", None, "true or false"),
    ],
)
def test_a_field_of_the_wrong_type_or_range_is_refused_naming_address_and_field(
    backend: LocalBackend, state_path: Path, field: str, value: object, expected: str
) -> None:
    item = record("ci-bot")
    write_body(state_path, {item.address: {**item.to_dict(), field: value}})

    message = refusal(backend, state_path)

    shown = json.dumps(value, ensure_ascii=False)
    assert f"{item.address}: malformed record: {field} is {shown} (expected {expected}" in message


def test_every_wrong_field_of_every_record_is_named_at_once(
    backend: LocalBackend, state_path: Path
) -> None:
    first, second = record("first"), record("second")
    write_body(
        state_path,
        {
            first.address: {**first.to_dict(), "serial": 1, "pending": "no", "status": "on"},
            second.address: {**second.to_dict(), "token_generation": None},
        },
    )

    message = refusal(backend, state_path)

    assert f"{first.address}: malformed record: pending is" in message
    assert f"{first.address}: malformed record: status is" in message
    assert f"{second.address}: malformed record: token_generation is null" in message
    assert "serial" not in message  # a key this version does not know is no problem


def test_a_missing_required_field_is_named(backend: LocalBackend, state_path: Path) -> None:
    item = record("ci-bot").to_dict()
    del item["group_id"]
    write_body(state_path, {record("ci-bot").address: item})

    assert "malformed record: group_id is missing" in refusal(backend, state_path)


def test_a_state_broken_everywhere_names_ten_problems_and_counts_the_rest(
    backend: LocalBackend, state_path: Path
) -> None:
    items = [record(f"n{i:02}") for i in range(15)]
    write_body(state_path, {i.address: {**i.to_dict(), "pending": "yes"} for i in items})

    message = refusal(backend, state_path)

    assert message.count("malformed record") == 10
    assert "and 5 more" in message


@pytest.mark.parametrize(
    ("top", "reason"),
    [
        ({"serial": True}, "serial is true (expected a whole number, 0 or more)"),
        ({"serial": -5}, "serial is -5 (expected a whole number, 0 or more)"),
        ({"serial": 1.5}, "serial is 1.5 (expected a whole number, 0 or more)"),
        ({"version": True}, "version true is not 1"),
        ({"version": 1.0}, "version 1.0 is not 1"),
        ({"version": 7}, "version 7 is not 1: it was written by a newer reconciler"),
        ({"lineage": ""}, 'lineage is "" (expected printable text, like a UUID)'),
        ({"lineage": "a\u0000b"}, 'lineage is "a\\u0000b" (expected printable text'),
        ({"resources": []}, "resources is not an object"),
    ],
)
def test_a_state_header_of_the_wrong_type_is_refused(
    backend: LocalBackend, state_path: Path, top: dict[str, object], reason: str
) -> None:
    write_body(state_path, {}, **top)

    message = refusal(backend, state_path)

    assert "not a reconciler state file" in message
    assert reason in message


@pytest.mark.parametrize(
    "text",
    [
        '{"version": 1, "lineage": "l", "serial": 1, "resources": {}, "x": "\\ud800"}',
        '{"version": 1, "lineage": "l", "serial": 1, "resources": {}, "x": '
        + "[" * 100
        + "]" * 100
        + "}",
        '{"version": 1, "lineage": "l", "serial": 1, "resources": {}, "x": ' + "1" * 5000 + "}",
    ],
    ids=["lone surrogate", "nested 100 deep", "5000 digits"],
)
def test_a_state_that_could_not_be_written_back_is_refused_when_read(
    backend: LocalBackend, state_path: Path, text: str
) -> None:
    state_path.parent.mkdir(parents=True)
    state_path.write_text(text, encoding="utf-8")

    assert "restore it from a backup" in refusal(backend, state_path)


# -- a state path must name a file --


@pytest.mark.parametrize("path", [".", "", "/", "..", "state/.."])
def test_a_state_path_naming_no_file_is_refused(path: str) -> None:
    with pytest.raises(StateError) as caught:
        LocalBackend(path)

    assert f"state path {path!r} names no file" in str(caught.value)
    assert "state/reconciler.json" in str(caught.value)


def test_a_state_path_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StateError) as caught:
        LocalBackend(tmp_path)

    assert str(caught.value) == (
        f"state path {tmp_path} is a directory; name a file like {tmp_path}/reconciler.json"
    )


def test_a_lock_file_nested_past_the_stack_names_no_holder(backend: LocalBackend) -> None:
    backend.lock_path.parent.mkdir(parents=True)
    backend.lock_path.write_text("[" * 100_000, encoding="utf-8")

    assert backend.holder() is None


def test_two_records_of_one_subject_id_are_refused_naming_both(
    backend: LocalBackend, state_path: Path
) -> None:
    first, second = record("a"), record("b", subject_id=record("a").subject_id)  # a hand edit
    write_body(state_path, {first.address: first.to_dict(), second.address: second.to_dict()})

    with pytest.raises(StateError) as refused:
        backend.read()

    message = str(refused.value)
    assert first.address in message and second.address in message
    assert f"same subject_id {first.subject_id}" in message
    assert "reconciler state rm" in message
