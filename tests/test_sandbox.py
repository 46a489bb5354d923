"""The sandbox emulates MiniMax's sub-account and bill API over real loopback HTTP.

Each test starts a fresh Sandbox on a free port and talks to it with httpx, the same
client library the providers use, so what these tests pin down is the wire behaviour
the API documents describe, plus the fault injection and admin endpoints tests rely on.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from reconciler.sandbox import SANDBOX_MINIMAX_API_KEY, SANDBOX_MINIMAX_GROUP_ID, Sandbox

KEY = SANDBOX_MINIMAX_API_KEY
GROUP = SANDBOX_MINIMAX_GROUP_ID
OTHER_KEY = "other-key"
OTHER_GROUP = "1690536709939485"


def http_client(base_url: str, **kwargs: Any) -> httpx.Client:
    """Plain HTTP on loopback: verify=False skips building a TLS context (~40 ms each)."""
    return httpx.Client(base_url=base_url, verify=False, timeout=5.0, **kwargs)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(minimax_keys={KEY: GROUP, OTHER_KEY: OTHER_GROUP}) as sb:
        yield sb


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {KEY}"}
    with http_client(sandbox.url, headers=headers) as c:
        yield c


def create(client: httpx.Client, name: str, group: str = GROUP) -> httpx.Response:
    return client.post("/v1/sub_account", params={"GroupId": group}, json={"account_name": name})


def code_of(response: httpx.Response) -> int:
    return response.json()["base_resp"]["status_code"]


def account(sandbox: Sandbox, subject_id: str) -> dict[str, Any]:
    return next(a for a in sandbox.minimax_accounts(GROUP) if a["subject_id"] == subject_id)


def day(text: str, hour: int = 0) -> int:
    return int(datetime.strptime(text, "%Y%m%d").replace(hour=hour, tzinfo=UTC).timestamp())


def bill(created_at: int, cash: str = "0.0100", tokens: str = "10") -> dict[str, Any]:
    return {
        "method": "chatcompletion-pro",
        "consume_cash": cash,
        "consume_token": tokens,
        "created_at": created_at,
        "status": "SUCCESS",
        "model": "abab6-chat",
        "mail": "冬天@1687256519302470",
        "creator_id": "",
        "api_token_name": "冬天",
        "creator_name": "冬天@1687256519302470",
        "ymd": "",
        "consume_time": "2024年01月31日 19:00-20:00",
    }


# -- sub-accounts --


def test_create_answers_the_documented_fields_and_the_account_starts_enabled(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    response = create(client, "sub-account1")
    body = response.json()
    assert response.status_code == 200
    assert body["base_resp"] == {"status_code": 0, "status_msg": "success"}
    assert re.fullmatch(r"[1-9]\d{18}", body["subject_id"])
    assert body["account"] == f"sub-account1@{GROUP}"
    assert re.fullmatch(r"[0-9a-f]{10}", body["password"])
    assert body["group_id"] == GROUP
    assert body["token"].startswith("eyJ") and len(body["token"]) >= 100
    [stored] = sandbox.minimax_accounts(GROUP)
    assert stored["status"] == 0
    assert stored["account_name"] == "sub-account1"
    assert stored["token"] == body["token"] and stored["password"] == body["password"]
    assert isinstance(stored["created_at"], int)


def test_create_accepts_a_chinese_name_and_answers_unescaped_utf8_json(
    client: httpx.Client,
) -> None:
    response = create(client, "测试账号")
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert "测试账号@".encode() in response.content
    assert response.json()["account"] == f"测试账号@{GROUP}"


def test_every_answer_carries_a_trace_id_and_a_content_length(client: httpx.Client) -> None:
    first, second = create(client, "a"), client.get("/nowhere")
    for response in (first, second):
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["trace-id"])
        assert int(response.headers["content-length"]) == len(response.content)
    assert first.headers["trace-id"] != second.headers["trace-id"]


def test_a_duplicate_name_in_the_same_group_is_refused_with_2013(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    create(client, "dup")
    response = create(client, "dup")
    assert response.status_code == 200
    assert response.json()["base_resp"] == {
        "status_code": 2013,
        "status_msg": "invalid params, account name already exists",
    }
    assert len(sandbox.minimax_accounts(GROUP)) == 1


def test_the_same_name_may_exist_in_another_group(sandbox: Sandbox, client: httpx.Client) -> None:
    create(client, "shared")
    other = {"Authorization": f"Bearer {OTHER_KEY}"}
    response = client.post(
        "/v1/sub_account", params={"GroupId": OTHER_GROUP}, json={"account_name": "shared"}
    )
    assert code_of(response) == 1004  # the default key does not belong to OTHER_GROUP
    response = client.post(
        "/v1/sub_account",
        params={"GroupId": OTHER_GROUP},
        json={"account_name": "shared"},
        headers=other,
    )
    assert code_of(response) == 0
    assert response.json()["account"] == f"shared@{OTHER_GROUP}"
    assert len(sandbox.minimax_accounts(OTHER_GROUP)) == 1


@pytest.mark.parametrize("name", ["", "tab\there", "new\nline", 42, None])
def test_an_empty_non_string_or_control_character_name_is_refused_with_2013(
    client: httpx.Client, name: object
) -> None:
    response = client.post(
        "/v1/sub_account", params={"GroupId": GROUP}, json={"account_name": name}
    )
    assert response.json()["base_resp"]["status_code"] == 2013


@pytest.mark.parametrize("body", [b"{not json", b"", b"[1, 2]"])
def test_a_body_that_is_not_a_json_object_is_refused_with_2013(
    client: httpx.Client, body: bytes
) -> None:
    response = client.post("/v1/sub_account", params={"GroupId": GROUP}, content=body)
    assert response.json()["base_resp"] == {"status_code": 2013, "status_msg": "invalid params"}


def test_status_disables_and_enables_an_account(sandbox: Sandbox, client: httpx.Client) -> None:
    subject_id = create(client, "s").json()["subject_id"]
    path = f"/v1/sub_account/{subject_id}/status"
    assert code_of(client.put(path, params={"GroupId": GROUP}, json={"status": 2})) == 0
    assert account(sandbox, subject_id)["status"] == 2
    assert code_of(client.put(path, params={"GroupId": GROUP}, json={"status": 0})) == 0
    assert account(sandbox, subject_id)["status"] == 0


@pytest.mark.parametrize("body", [{"status": 1}, {"status": "2"}, {"status": True}, {}])
def test_a_status_other_than_0_or_2_is_refused_with_2013(
    sandbox: Sandbox, client: httpx.Client, body: dict[str, Any]
) -> None:
    subject_id = create(client, "s").json()["subject_id"]
    response = client.put(
        f"/v1/sub_account/{subject_id}/status", params={"GroupId": GROUP}, json=body
    )
    assert code_of(response) == 2013
    assert account(sandbox, subject_id)["status"] == 0


def test_token_rotation_answers_a_new_token_that_replaces_the_old(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    created = create(client, "t").json()
    response = client.put(
        f"/v1/sub_account/{created['subject_id']}/token", params={"GroupId": GROUP}
    )
    body = response.json()
    assert body["base_resp"]["status_code"] == 0
    assert body["token"].startswith("eyJ") and body["token"] != created["token"]
    assert account(sandbox, created["subject_id"])["token"] == body["token"]


def test_delete_removes_the_account_and_frees_its_name(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    subject_id = create(client, "gone").json()["subject_id"]
    response = client.delete(f"/v1/sub_account/{subject_id}", params={"GroupId": GROUP})
    assert response.json()["base_resp"] == {"status_code": 0, "status_msg": "success"}
    assert sandbox.minimax_accounts(GROUP) == []
    assert code_of(create(client, "gone")) == 0


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [("DELETE", "", None), ("PUT", "/status", {"status": 2}), ("PUT", "/token", None)],
)
def test_an_unknown_subject_id_is_refused_with_2013_sub_account_not_found(
    client: httpx.Client, method: str, suffix: str, body: dict[str, Any] | None
) -> None:
    response = client.request(
        method, f"/v1/sub_account/1766027179931476045{suffix}", params={"GroupId": GROUP}, json=body
    )
    assert response.json()["base_resp"] == {
        "status_code": 2013,
        "status_msg": "invalid params, sub account not found",
    }


def test_an_account_of_another_group_is_not_found_with_this_groups_key(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    other = {"Authorization": f"Bearer {OTHER_KEY}"}
    subject_id = client.post(
        "/v1/sub_account",
        params={"GroupId": OTHER_GROUP},
        json={"account_name": "x"},
        headers=other,
    ).json()["subject_id"]
    response = client.delete(f"/v1/sub_account/{subject_id}", params={"GroupId": GROUP})
    assert code_of(response) == 2013
    assert len(sandbox.minimax_accounts(OTHER_GROUP)) == 1


# -- auth --


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-key", f"Basic {KEY}", KEY, "Bearer"])
def test_a_missing_or_unknown_key_is_refused_with_1004_login_fail(
    sandbox: Sandbox, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    with http_client(sandbox.url, headers=headers) as c:
        response = create(c, "nope")
    assert response.status_code == 200
    assert response.json()["base_resp"] == {
        "status_code": 1004,
        "status_msg": "login fail: Please carry the API secret key in the 'Authorization' "
        "field of the request header",
    }
    assert sandbox.minimax_accounts(GROUP) == []


def test_the_header_name_and_bearer_prefix_are_case_insensitive(sandbox: Sandbox) -> None:
    with http_client(sandbox.url, headers={"authorization": f"bearer {KEY}"}) as c:
        assert code_of(create(c, "lower")) == 0


def test_a_key_used_with_another_groups_id_is_refused_with_1004_token_not_match_group(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    response = create(client, "x", group=OTHER_GROUP)
    assert response.json()["base_resp"] == {
        "status_code": 1004,
        "status_msg": "token not match group",
    }
    assert sandbox.minimax_accounts(OTHER_GROUP) == []


def test_a_missing_group_id_is_refused_with_2013(client: httpx.Client) -> None:
    response = client.post("/v1/sub_account", json={"account_name": "x"})
    assert response.json()["base_resp"] == {
        "status_code": 2013,
        "status_msg": "invalid params, GroupId is required",
    }


def test_an_unknown_path_or_method_answers_http_404_not_found(client: httpx.Client) -> None:
    for response in (client.get("/v1/nowhere"), client.get("/v1/sub_account")):
        assert response.status_code == 404
        assert response.json() == {"base_resp": {"status_code": 1000, "status_msg": "not found"}}


# -- bills --


def test_bills_are_the_rows_within_the_utc_days_inclusive_with_their_totals(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    sandbox.add_minimax_bill(GROUP, bill(day("20240129") + 86_399, "9.0", "9"))  # before
    sandbox.add_minimax_bill(GROUP, bill(day("20240130"), "0.0540", "3602"))  # first second
    sandbox.add_minimax_bill(GROUP, bill(day("20240131") + 86_399, "0.0300", "1"))  # last second
    sandbox.add_minimax_bill(GROUP, bill(day("20240201"), "7.0", "7"))  # after
    response = client.get(
        "/v1/batch_query_bill",
        params={"GroupId": GROUP, "start_date": "20240130", "end_date": "20240131"},
    )
    body = response.json()
    assert body["base_resp"]["status_code"] == 0
    assert [row["consume_token"] for row in body["bill_list"]] == ["3602", "1"]
    assert body["bill_list"][0]["api_token_name"] == "冬天"
    assert body["bill_list"][0]["group_id"] == GROUP
    assert body["total_cash"] == pytest.approx(0.084)
    assert body["total_token"] == 3603


def test_bills_of_another_group_are_not_reported(sandbox: Sandbox, client: httpx.Client) -> None:
    sandbox.add_minimax_bill(OTHER_GROUP, bill(day("20240130", hour=12)))
    response = client.get(
        "/v1/batch_query_bill",
        params={"GroupId": GROUP, "start_date": "20240101", "end_date": "20240131"},
    )
    assert response.json()["bill_list"] == []
    assert response.json()["total_token"] == 0


@pytest.mark.parametrize(
    "dates",
    [
        {"end_date": "20240131"},
        {"start_date": "20240101"},
        {"start_date": "2024-01-01", "end_date": "20240131"},
        {"start_date": "20240231", "end_date": "20240301"},
        {"start_date": "20240201", "end_date": "20240131"},
    ],
)
def test_bills_with_missing_or_bad_dates_are_refused_with_2013(
    client: httpx.Client, dates: dict[str, str]
) -> None:
    response = client.get("/v1/batch_query_bill", params={"GroupId": GROUP, **dates})
    assert code_of(response) == 2013


def test_a_bill_row_without_created_at_is_rejected(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="created_at"):
        sandbox.add_minimax_bill(GROUP, {"consume_cash": "1"})


# -- faults --


def test_an_http_status_fault_answers_429_with_retry_after_and_creates_nothing(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    sandbox.add_fault(method="POST", path=r"/v1/sub_account", kind="http_status", retry_after=3)
    response = create(client, "x")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    assert response.json()["base_resp"]["status_code"] == 1000
    assert sandbox.minimax_accounts(GROUP) == []
    assert code_of(create(client, "x")) == 0  # times=1: the next call goes through


def test_a_fault_with_a_chance_fires_on_that_share_of_requests_repeatably(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    sandbox.add_fault(kind="http_status", retry_after=None, times=None, chance=0.3)

    def statuses() -> list[int]:
        return [create(client, f"n{i}").status_code for i in range(100)]

    sandbox.seed_faults(7)
    first = statuses()
    sandbox.seed_faults(7)
    assert statuses() == first
    assert 15 <= first.count(429) <= 45
    with pytest.raises(ValueError, match="chance"):
        sandbox.add_fault(kind="http_status", chance=0)


def test_an_http_status_fault_can_be_a_5xx_without_retry_after(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    sandbox.add_fault(kind="http_status", http_status=503, retry_after=None, message="busy")
    response = create(client, "x")
    assert response.status_code == 503
    assert "retry-after" not in response.headers
    assert response.json()["base_resp"]["status_msg"] == "busy"


def test_a_base_resp_fault_answers_http_200_with_the_code_and_creates_nothing(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    sandbox.add_fault(kind="base_resp", code=1002, message="rate limit")
    response = create(client, "x")
    assert response.status_code == 200
    assert response.json() == {"base_resp": {"status_code": 1002, "status_msg": "rate limit"}}
    assert sandbox.minimax_accounts(GROUP) == []


def test_drop_before_closes_the_connection_unanswered_and_creates_nothing(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    sandbox.add_fault(kind="drop_before")
    with pytest.raises(httpx.TransportError):
        create(client, "lost")
    assert sandbox.minimax_accounts(GROUP) == []
    assert code_of(create(client, "lost")) == 0  # the same client recovers


def test_drop_after_performs_the_action_then_closes_the_connection_unanswered(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    sandbox.add_fault(kind="drop_after")
    with pytest.raises(httpx.TransportError):
        create(client, "created")
    assert [a["account_name"] for a in sandbox.minimax_accounts(GROUP)] == ["created"]
    assert code_of(create(client, "created")) == 2013  # a re-send meets the duplicate


def test_http_status_after_performs_the_action_then_answers_like_a_failing_gateway(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    sandbox.add_fault(kind="http_status_after", http_status=504, retry_after=None)
    assert create(client, "created").status_code == 504
    assert [a["account_name"] for a in sandbox.minimax_accounts(GROUP)] == ["created"]
    assert code_of(create(client, "created")) == 2013


def test_a_latency_fault_delays_the_answer_then_performs_the_call(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    sandbox.add_fault(kind="latency", delay=0.2)
    started = time.monotonic()
    response = create(client, "slow")
    assert time.monotonic() - started >= 0.2
    assert code_of(response) == 0


def test_a_malformed_fault_answers_http_200_with_invalid_json_and_creates_nothing(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    sandbox.add_fault(kind="malformed")
    response = create(client, "x")
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)
    assert sandbox.minimax_accounts(GROUP) == []


def test_a_fault_fires_times_times_and_none_means_forever(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    sandbox.add_fault(kind="base_resp", code=2045, times=2)
    assert [code_of(create(client, "x")) for _ in range(3)] == [2045, 2045, 0]
    sandbox.add_fault(kind="base_resp", code=1039, times=None)
    assert [code_of(create(client, "y")) for _ in range(4)] == [1039] * 4
    sandbox.clear_faults()
    assert code_of(create(client, "y")) == 0


def test_a_fault_matches_the_method_and_the_whole_path_only(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    sandbox.add_fault(method="PUT", path=r"/v1/sub_account/\d+/token", kind="base_resp", code=1002)
    sandbox.add_fault(method="GET", path=r"/v1/sub", kind="base_resp", code=1002)
    subject_id = create(client, "x").json()["subject_id"]
    status = client.put(
        f"/v1/sub_account/{subject_id}/status", params={"GroupId": GROUP}, json={"status": 2}
    )
    token = client.put(f"/v1/sub_account/{subject_id}/token", params={"GroupId": GROUP})
    assert (code_of(status), code_of(token)) == (0, 1002)


def test_the_first_matching_fault_wins_and_star_matches_any_method(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    sandbox.add_fault(method="*", path=r"/v1/.*", kind="base_resp", code=1000)
    sandbox.add_fault(kind="base_resp", code=1002)
    assert code_of(create(client, "x")) == 1000
    assert code_of(create(client, "x")) == 1002


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kind": "explode"},
        {"path": "("},
        {"http_status": 99},
        {"delay": -1},
        {"times": -1},
        {"retry_after": "soon"},
    ],
)
def test_add_fault_rejects_bad_arguments(sandbox: Sandbox, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        sandbox.add_fault(**kwargs)


# -- request log and admin endpoints --


def test_the_request_log_lists_provider_requests_in_order_without_admin_ones(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    sandbox.add_fault(kind="drop_before")
    with pytest.raises(httpx.TransportError):
        create(client, "a")
    client.get("/_sandbox/health")
    client.get("/v1/batch_query_bill", params={"GroupId": GROUP, "start_date": "20240101"})
    assert sandbox.requests == [
        {"method": "POST", "path": "/v1/sub_account", "query": {"GroupId": GROUP}},
        {
            "method": "GET",
            "path": "/v1/batch_query_bill",
            "query": {"GroupId": GROUP, "start_date": "20240101"},
        },
    ]
    assert client.get("/_sandbox/requests").json() == {"requests": sandbox.requests}


def test_admin_health_answers_ok(client: httpx.Client) -> None:
    response = client.get("/_sandbox/health")
    assert (response.status_code, response.json()) == (200, {"ok": True})


def test_admin_lists_sub_accounts_with_their_secrets(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    created = create(client, "测试账号").json()
    listed = client.get(f"/_sandbox/minimax/{GROUP}/sub_accounts").json()["sub_accounts"]
    assert listed == sandbox.minimax_accounts(GROUP)
    assert listed[0]["token"] == created["token"]
    assert listed[0]["account"] == created["account"]


def test_admin_adds_and_clears_faults(sandbox: Sandbox, client: httpx.Client) -> None:
    fault = {"method": "POST", "path": "/v1/sub_account", "kind": "http_status", "times": None}
    assert client.post("/_sandbox/faults", json=fault).json() == {"ok": True}
    assert create(client, "x").status_code == 429
    assert client.delete("/_sandbox/faults").json() == {"ok": True}
    assert code_of(create(client, "x")) == 0


@pytest.mark.parametrize("body", [{"kind": "explode"}, {"bogus": 1}, [1]])
def test_admin_refuses_a_bad_fault_with_http_400(client: httpx.Client, body: object) -> None:
    response = client.post("/_sandbox/faults", json=body)
    assert response.status_code == 400
    assert response.json()["ok"] is False


def test_admin_adds_bill_rows(sandbox: Sandbox, client: httpx.Client) -> None:
    row = bill(day("20240131", hour=19))
    assert client.post(f"/_sandbox/minimax/{GROUP}/bills", json=row).json() == {"ok": True}
    assert client.post(f"/_sandbox/minimax/{GROUP}/bills", json={}).status_code == 400
    response = client.get(
        "/v1/batch_query_bill",
        params={"GroupId": GROUP, "start_date": "20240131", "end_date": "20240131"},
    )
    assert response.json()["bill_list"] == [{**row, "group_id": GROUP}]


def test_an_unknown_admin_path_answers_http_404(client: httpx.Client) -> None:
    assert client.get("/_sandbox/nowhere").status_code == 404


# -- server lifecycle and concurrency --


def test_concurrent_creates_all_succeed_with_unique_ids(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda i: create(client, f"acct-{i}"), range(40)))
    assert {code_of(r) for r in responses} == {0}
    assert len({r.json()["subject_id"] for r in responses}) == 40
    assert len(sandbox.minimax_accounts(GROUP)) == 40


def test_the_default_sandbox_knows_the_sandbox_key_and_group() -> None:
    with Sandbox() as sb, http_client(sb.url) as c:
        assert sb.url == f"http://127.0.0.1:{sb.port}"
        response = c.post(
            "/v1/sub_account",
            params={"GroupId": "1687256519302470"},
            json={"account_name": "x"},
            headers={"Authorization": "Bearer sandbox-minimax-key"},
        )
        assert code_of(response) == 0


def test_stop_closes_the_listening_socket_and_open_connections() -> None:
    sb = Sandbox().start()
    with http_client(sb.url) as c:
        assert c.get("/_sandbox/health").status_code == 200
        sb.stop()
        with pytest.raises(httpx.TransportError):
            c.get("/_sandbox/health")


def test_serve_forever_blocks_until_stop_is_called_from_another_thread() -> None:
    sb = Sandbox()
    url = sb.url  # binds first, so the address is known before serving
    thread = threading.Thread(target=sb.serve_forever)
    thread.start()
    try:
        with http_client(url) as c:
            assert c.get("/_sandbox/health").json() == {"ok": True}
        assert thread.is_alive()
    finally:
        sb.stop()
        thread.join(timeout=5)
    assert not thread.is_alive()
