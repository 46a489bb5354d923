"""Hostile copies of the files reconciler keeps: state, sealed secrets, journal.

Each generator starts from a file the real code would write (``_state()``, a store the
real ``SecretStore`` sealed, the journal of one create) and edits it the ways a person, a
bad merge or a torn write would: a part replaced with any JSON, an entry renamed or
recorded twice, the file cut short, a byte flipped (checksummed again where that keeps a
journal line readable), another lineage, lines dropped or out of order, names in any
script. Hypothesis strategies, for the property tests and the reliability report.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from hypothesis import strategies as st

from reconciler.testing.hostile import JSON_VALUE, NAME, TEXT

STATE_LINEAGE = "6f1c2a8e-3b8f-4c62-9d5a-0b2f4e7c1a90"
_SUB_ACCOUNT = {
    "type": "minimax_sub_account",
    "alias": "cn-main",
    "name": "ci-bot",
    "group_id": "1687256519302470",
    "subject_id": "1766027179931476045",
    "status": "enabled",
    "token_generation": 1,
    "token_issued_at": "2026-11-01T00:00:00Z",
    "token_fingerprint": "0123abcd",
    "prevent_destroy": False,
    "pending": False,
    "created_at": "2026-11-01T00:00:00Z",
}
_LIMIT = {
    "type": "xai_spending_limit",
    "alias": "prod",
    "team_id": "t-1",
    "monthly_usd": "500.00",
    "applied_at": "2026-11-01T00:00:00Z",
}
SUB_ACCOUNT_ADDRESS = 'minimax.cn-main.sub_account["ci-bot"]'
_RESOURCES = {SUB_ACCOUNT_ADDRESS: _SUB_ACCOUNT, "xai.prod.spending_limit": _LIMIT}


def _state(serial: int = 3) -> dict[str, Any]:
    return {
        "version": 1,
        "lineage": STATE_LINEAGE,
        "workspace": "..",
        "serial": serial,
        "resources": json.loads(json.dumps(_RESOURCES)),
    }


def _mutated(draw: st.DrawFn, document: dict[str, Any]) -> bytes:
    """``document`` with one part replaced (header, entry, field), or cut, or other JSON."""
    choice = draw(st.integers(0, 5))
    if choice == 0:
        return json.dumps(draw(JSON_VALUE)).encode()
    if choice == 1:
        document[draw(st.sampled_from(sorted(document)))] = draw(JSON_VALUE)
    entries = next((v for v in document.values() if isinstance(v, dict) and v), None)
    if choice in (2, 3) and entries:
        address = draw(st.sampled_from(sorted(entries)))
        if choice == 2 and isinstance(entries[address], dict) and entries[address]:
            entries[address][draw(st.sampled_from(sorted(entries[address])))] = draw(JSON_VALUE)
        else:
            entries[draw(TEXT)] = entries.pop(address)  # renamed: another or no address
    if choice == 4 and entries:  # a second record of one account (a bad merge)
        address = sorted(entries)[0]
        entries[address.replace("ci-bot", draw(TEXT))] = entries[address]
    data = json.dumps(document, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
    if choice == 5:
        data = data[: draw(st.integers(0, len(data)))]
    return data


@st.composite
def state_file(draw: st.DrawFn) -> bytes:
    """A state snapshot: a valid one with a part replaced or cut, or other JSON, or a valid
    one holding accounts of any name, id and generation."""
    if draw(st.booleans()):
        return _mutated(draw, _state())
    state = _state()
    for name, subject_id, generation in draw(st.lists(_RECORDED, max_size=4)):
        record = {**_SUB_ACCOUNT, "name": name, "subject_id": subject_id}
        record["token_generation"] = generation
        address = f"minimax.cn-main.sub_account[{json.dumps(name, ensure_ascii=False)}]"
        state["resources"][address] = record
    return json.dumps(state, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")


_RECORDED = st.tuples(
    NAME,
    st.from_regex(r"[1-9][0-9]{0,19}", fullmatch=True),
    st.integers(0, 999_999_999),
)


@st.composite
def secrets_file(draw: st.DrawFn, valid: dict[str, Any]) -> bytes:
    """A sealed-secrets store: ``valid`` (one the real store wrote) mutated."""
    return _mutated(draw, json.loads(json.dumps(valid)))


@st.composite
def journal_file(draw: st.DrawFn, lines: list[dict[str, Any]]) -> bytes:
    """A journal continuing ``_state()``: ``lines`` (header first) then hostile edits:
    an entry replaced (checksummed again, so it reads), a byte flipped, a line cut or
    dropped, serials out of order, another lineage."""
    entries = json.loads(json.dumps(lines))
    choice = draw(st.integers(0, 5))
    if choice == 0 and len(entries) > 1:
        index = draw(st.integers(1, len(entries) - 1))
        entries[index][draw(st.sampled_from(sorted(entries[index])))] = draw(JSON_VALUE)
    if choice == 1:
        entries[0]["lineage"] = draw(st.sampled_from([STATE_LINEAGE[::-1], None, 7]))
    if choice == 2 and len(entries) > 2:
        del entries[draw(st.integers(1, len(entries) - 1))]
    if choice == 3:
        entries.append(draw(st.dictionaries(TEXT, JSON_VALUE, max_size=4)))
    data = b"".join(_line(entry) for entry in entries)
    if choice == 4 and data:
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + bytes([data[at] ^ (1 << draw(st.integers(0, 7)))]) + data[at + 1 :]
    if choice == 5:
        data = data[: draw(st.integers(0, len(data)))]
    return data


def _line(entry: Any) -> bytes:
    """A journal line as ``journal.encode_line`` writes it, even around a lone surrogate."""
    body = json.dumps(entry, ensure_ascii=False, separators=(",", ":"))
    raw = body.encode("utf-8", "surrogatepass")
    return b"%08x %s\n" % (zlib.crc32(raw), raw)


def journal_lines(sealed_entry: dict[str, Any], key_check: str) -> list[dict[str, Any]]:
    """A journal of a create after ``_state()``: pending, its sealed secrets, then done."""
    pending = {**_SUB_ACCOUNT, "name": "new", "subject_id": None, "pending": True}
    done = {**pending, "subject_id": "1766027179931476046", "pending": False}
    address = SUB_ACCOUNT_ADDRESS.replace("ci-bot", "new")
    return [
        {"journal": 1, "lineage": STATE_LINEAGE, "key_check": key_check},
        {"doc": "state", "serial": 4, "put": address, "value": pending},
        {"doc": "secrets", "serial": 2, "put": address, "value": sealed_entry},
        {"doc": "state", "serial": 5, "put": address, "value": done},
        {"doc": "state", "serial": 6, "remove": "xai.prod.spending_limit"},
    ]


def state_bytes() -> bytes:
    """The valid state snapshot the generators start from."""
    return json.dumps(_state()).encode()
