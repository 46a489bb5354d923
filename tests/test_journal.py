"""The journal beside the state and the secrets store: durable, linear, crash-tolerant.

Each change is one checksummed line appended to ``<file>.journal``; reading replays the
journal onto the snapshot; closing the change log folds it in. These tests write and
read through the local backend and the secrets store, and damage the files the way a
crash or a person can.
"""

from __future__ import annotations

import json
import os
import threading
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.errors import SecretsError, StateError
from reconciler.model import RecordedSubAccount
from reconciler.secrets import SecretStore, generate_key, load_key
from reconciler.state import LocalBackend, StateDocument, changelog
from reconciler.state.journal import decode_line, encode_line


def record(name: str, subject_id: str | None = "") -> RecordedSubAccount:
    """A recorded sub-account; each name has its own subject_id, as MiniMax gives them."""
    if subject_id == "":
        subject_id = f"17660271799{zlib.crc32(name.encode()):08d}"[:19]
    return RecordedSubAccount(
        alias="cn-main",
        name=name,
        group_id="1687256519302470",
        subject_id=subject_id,
        pending=subject_id is None,
        token_issued_at=datetime(2026, 8, 1, tzinfo=UTC) if subject_id else None,
    )


@pytest.fixture
def backend(tmp_path: Path) -> LocalBackend:
    return LocalBackend(tmp_path / "state" / "reconciler.json")


def journal_of(backend: LocalBackend) -> Path:
    return backend.path.with_name("reconciler.json.journal")


def put(log, state: StateDocument, item: RecordedSubAccount) -> None:
    """What the recorder does for one change: memory, serial, journal, then durability."""
    state.put(item)
    state.serial += 1
    log.record(state.serial, item.address, item.to_dict()).wait()


def test_a_recorded_change_is_read_back_before_the_journal_is_folded(backend):
    state = backend.read()
    log = backend.change_log(state, state.snapshot)
    put(log, state, record("a"))

    assert not backend.path.exists()  # nothing but the journal was written
    again = backend.read()
    assert (again.lineage, again.serial) == (state.lineage, 1)
    assert set(again.records()) == {record("a").address}


def test_closing_the_change_log_folds_the_journal_into_the_snapshot(backend):
    state = backend.read()
    log = backend.change_log(state, state.snapshot)
    put(log, state, record("a"))
    put(log, state, record("b"))
    state.remove(record("a").address)
    state.serial += 1
    log.record(state.serial, record("a").address, None).wait()

    assert log.close() is None

    assert not journal_of(backend).exists()
    on_disk = json.loads(backend.path.read_text(encoding="utf-8"))
    assert on_disk["serial"] == 3
    assert list(on_disk["resources"]) == [record("b").address]
    assert backend.read().records() == {record("b").address: record("b")}


def test_the_snapshot_holds_one_resource_per_line_readably(backend):
    state = backend.read()
    for name in ("b", "测试账号", "a"):
        state.put(record(name))
    backend.write(state)

    lines = backend.path.read_text(encoding="utf-8").splitlines()
    entries = [line for line in lines if line.startswith('    "minimax.')]
    assert [json.loads("{" + line.rstrip(",") + "}") for line in entries] == [
        {record(name).address: record(name).to_dict()} for name in ("a", "b", "测试账号")
    ]
    assert '"name": "测试账号"' in backend.path.read_text(encoding="utf-8")


def test_a_torn_last_line_is_ignored_and_every_line_before_it_replayed(backend):
    state = backend.read()
    log = backend.change_log(state, state.snapshot)
    put(log, state, record("a"))
    put(log, state, record("b"))
    with open(journal_of(backend), "ab") as handle:
        handle.write(encode_line({"doc": "state", "serial": 3, "put": "x", "value": {}})[:25])

    loaded = backend.read()

    assert loaded.serial == 2
    assert set(loaded.records()) == {record("a").address, record("b").address}


def test_a_damaged_line_ends_the_journal_there(backend):
    state = backend.read()
    log = backend.change_log(state, state.snapshot)
    for name in ("a", "b", "c"):
        put(log, state, record(name))
    lines = journal_of(backend).read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b'"b"', b'"B"')  # the checksum no longer matches
    journal_of(backend).write_bytes(b"".join(lines))

    loaded = backend.read()

    assert decode_line(lines[2]) is None
    assert (loaded.serial, set(loaded.records())) == (1, {record("a").address})


def test_lines_the_snapshot_already_holds_are_not_replayed_twice(backend):
    # A crash after the snapshot was written but before its journal was removed.
    state = backend.read()
    log = backend.change_log(state, state.snapshot)
    put(log, state, record("a"))
    journal = journal_of(backend).read_bytes()
    assert log.close() is None
    journal_of(backend).write_bytes(journal)
    state.remove(record("a").address)
    backend.write(state)  # serial 2: "a" removed after the journal that put it
    journal_of(backend).write_bytes(journal)

    loaded = backend.read()

    assert (loaded.serial, loaded.records()) == (2, {})


def test_a_journal_that_skips_serials_is_refused_naming_the_line(backend):
    state = backend.read()
    backend.write(state)
    header = encode_line({"journal": 1, "lineage": state.lineage})
    value = record("a").to_dict()
    entry = encode_line({"doc": "state", "serial": 5, "put": record("a").address, "value": value})
    journal_of(backend).write_bytes(header + entry)

    with pytest.raises(StateError) as caught:
        backend.read()

    assert str(caught.value) == (
        f"{journal_of(backend)}:2: the journal continues from serial 4, but {backend.path} is "
        "at serial 1: was it restored from an older copy?"
    )


def test_a_journal_of_another_state_is_refused_naming_both_files(backend):
    backend.write(backend.read())
    entry = {"doc": "state", "serial": 2, "remove": record("a").address}
    journal_of(backend).write_bytes(
        encode_line({"journal": 1, "lineage": "someone-else"}) + encode_line(entry)
    )

    with pytest.raises(StateError) as caught:
        backend.read()

    message = str(caught.value)
    assert f"{journal_of(backend)} belongs to another state (lineage someone-else" in message
    assert f"remove {journal_of(backend)}" in message


def test_a_journal_with_only_a_torn_header_is_an_empty_one(backend):
    journal_of(backend).parent.mkdir(parents=True)
    journal_of(backend).write_bytes(b'0000abcd {"journ')

    assert backend.read().resources == {}


def test_a_journal_without_a_snapshot_is_the_whole_state(backend):
    state = backend.read()
    log = backend.change_log(state, state.snapshot)
    put(log, state, record("a", subject_id=None))

    loaded = backend.read()

    assert (loaded.lineage, loaded.serial) == (state.lineage, 1)
    assert loaded.records()[record("a").address].pending


def test_a_journal_a_crash_left_is_folded_in_before_the_next_change(backend):
    state = backend.read()
    crashed = backend.change_log(state, state.snapshot)
    put(crashed, state, record("a"))  # never closed: the process died here

    backend = LocalBackend(backend.path)  # the next process
    resumed = backend.read()
    log = backend.change_log(resumed, resumed.snapshot)

    assert not journal_of(backend).exists()
    assert json.loads(backend.path.read_text())["serial"] == 1
    put(log, resumed, record("b"))
    assert log.close() is None
    assert set(backend.read().records()) == {record("a").address, record("b").address}


def test_parallel_changes_share_flushes_and_all_are_durable(backend, monkeypatch):
    syncs = []
    real_fdatasync = os.fdatasync

    def counted(fd: int) -> None:
        syncs.append(fd)
        real_fdatasync(fd)

    monkeypatch.setattr(os, "fdatasync", counted)
    state = backend.read()
    log = backend.change_log(state, state.snapshot)
    lock = threading.Lock()
    start = threading.Barrier(16)

    def worker(index: int) -> None:
        start.wait()
        for step in range(20):
            item = record(f"w{index}-{step}")
            with lock:  # the recorder's lock: memory only
                state.put(item)
                state.serial += 1
                commit = log.record(state.serial, item.address, item.to_dict())
            commit.wait()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    loaded = backend.read()
    assert loaded.serial == 320
    assert loaded.resources == state.resources
    assert len(syncs) < 320  # writers arriving during a flush shared the next one


def test_a_failed_journal_write_fails_that_change_and_every_later_one(backend, monkeypatch):
    state = backend.read()
    log = backend.change_log(state, state.snapshot)
    put(log, state, record("a"))

    def full(fd: int, data: bytes) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(StateError) as caught:
        put(log, state, record("b"))
    monkeypatch.undo()
    with pytest.raises(StateError):
        put(log, state, record("c"))

    assert "No space left on device" in str(caught.value)
    assert str(journal_of(backend)) in str(caught.value)
    assert set(backend.read().records()) == {record("a").address}  # the durable prefix
    assert log.close() is None  # the disk is back: memory is folded in whole
    assert len(backend.read().records()) == 3


def test_a_long_apply_folds_the_journal_while_changes_keep_arriving(backend, monkeypatch):
    monkeypatch.setattr(changelog, "FOLD_MIN_BYTES", 4096)
    state = backend.read()
    log = backend.change_log(state, state.snapshot)
    sizes = []  # the serial of the snapshot on disk, after each change
    for index in range(300):
        put(log, state, record(f"acct-{index}"))
        if backend.path.exists():
            sizes.append(json.loads(backend.path.read_text())["serial"])
        assert backend.read().serial == index + 1  # readable at every moment

    assert len(set(sizes)) > 1 and sizes[-1] < 300  # folded midway, again as it grew
    assert log.close() is None
    assert len(backend.read().records()) == 300


def test_the_secrets_store_journals_each_change_and_a_wrong_key_is_refused(tmp_path):
    path = tmp_path / "state" / "reconciler.secrets.json"
    key = load_key("K", {"K": generate_key()})
    store = SecretStore(path, key)
    store.begin()
    store.put("a", "token", "the-token", "2026-11-23T12:00:00Z", "1")
    commit = store.commit()
    assert commit is not None
    commit.wait()

    assert not path.exists()
    assert SecretStore(path, key).get("a", "token") == "the-token"
    with pytest.raises(SecretsError) as caught:
        SecretStore(path, load_key("K", {"K": generate_key()}))
    assert "is not the key this secrets store" in str(caught.value)
    assert store.end() is None
    assert not path.with_name(path.name + ".journal").exists()
    assert SecretStore(path, key).get("a", "token") == "the-token"
    assert b"the-token" not in path.read_bytes()
