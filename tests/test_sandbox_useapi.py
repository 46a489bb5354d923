"""The sandbox emulates useapi.net's MiniMax credits endpoint over real loopback HTTP.

What these tests pin down is the wire behaviour ``shared/providers/useapi.md`` and its
seed describe (the features answer, ``{"error", "code"}`` errors, when ``account`` is
required), the admin hooks that change credits, and faults answered in useapi's shape.
The sandbox clock is pinned to 2026-03-15 12:00 UTC.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from reconciler.sandbox import (
    SANDBOX_MINIMAX_API_KEY,
    SANDBOX_MINIMAX_GROUP_ID,
    SANDBOX_USEAPI_ACCOUNT,
    SANDBOX_USEAPI_TOKEN,
    SANDBOX_XAI_MANAGEMENT_KEY,
    SANDBOX_XAI_TEAM_ID,
    Sandbox,
)

TOKEN = SANDBOX_USEAPI_TOKEN
ACCOUNT = SANDBOX_USEAPI_ACCOUNT
FEATURES = "/v1/minimax/features/"
NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC).timestamp()
TODAY_END_MS = int(datetime(2026, 3, 16, tzinfo=UTC).timestamp() * 1000) - 1
DAY_MS = 86_400_000
# Every field of the seed's 200 answer.
SEED_FIELDS = {
    "privilegeType",
    "totalCredits",
    "expireText",
    "videoCost",
    "queueLength",
    "memberText",
    "memberHoverText",
    "expireTime",
    "isNewUser",
    "questionText",
    "trialExpireTime",
    "trialText",
    "memberName",
    "newUserVersion",
    "creditExpireText",
    "modelControl",
    "supportModes",
    "imageQueueLength",
    "totalCreditsStr",
    "isPaidSubscription",
    "canManagePlan",
    "audio",
}


def http_client(base_url: str, **kwargs: Any) -> httpx.Client:
    """Plain HTTP on loopback: verify=False skips building a TLS context (~40 ms each)."""
    return httpx.Client(base_url=base_url, verify=False, timeout=5.0, **kwargs)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(clock=lambda: NOW) as sb:
        yield sb


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with http_client(sandbox.url, headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        yield c


def features(client: httpx.Client, **params: str) -> dict[str, Any]:
    response = client.get(FEATURES, params=params)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


# -- the features answer --


def test_features_answer_the_seeds_shape_for_the_only_account_without_an_account_parameter(
    client: httpx.Client,
) -> None:
    body = features(client)
    assert set(body) == SEED_FIELDS
    assert body["totalCredits"] == 1250 and body["totalCreditsStr"] == "1250"
    assert body["memberName"] == "Free"
    assert body["modelControl"][0] == {
        "modelId": "image-01",
        "videoCost": 1,
        "isMember": False,
        "freeCount": 0,
        "durations": [],
        "resolutions": [],
        "modes": [],
        "videoCosts": [],
    }
    assert {m["modelId"]: m["videoCost"] for m in body["modelControl"]}["23021"] == 45
    audio = body["audio"]
    assert audio["total_credit"] == 100
    assert audio["sub_credits"][0]["credit"] == 100
    assert audio["sub_credits"][0]["record"] == [
        {"credit": 100, "endTime": audio["sub_credits"][0]["end_time"]}
    ]


def test_the_default_account_has_credits_expiring_within_seven_days_and_later(
    client: httpx.Client,
) -> None:
    expiring = features(client)["creditExpireText"]
    assert expiring == [
        {"credit": 300, "endTime": TODAY_END_MS + 2 * DAY_MS},
        {"credit": 500, "endTime": TODAY_END_MS + 30 * DAY_MS},
    ]
    now_ms = NOW * 1000
    assert [e["credit"] for e in expiring if e["endTime"] - now_ms <= 7 * DAY_MS] == [300]
    assert all(e["endTime"] % 1000 == 999 for e in expiring)  # the seed's end-of-day stamps


@pytest.mark.parametrize("path", ["/v1/minimax/features/", "/v1/minimax/features"])
@pytest.mark.parametrize("params", [{}, {"account": ACCOUNT}])
def test_features_answer_with_or_without_the_trailing_slash_and_the_account_parameter(
    client: httpx.Client, path: str, params: dict[str, str]
) -> None:
    response = client.get(path, params=params)
    assert response.status_code == 200
    assert response.json()["totalCredits"] == 1250


def test_expire_text_names_the_credits_expiring_within_24_hours(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    assert features(client)["expireText"] == ""
    sandbox.set_useapi_credits(ACCOUNT, 100, expiring=[{"credit": 40, "endTime": TODAY_END_MS}])
    assert features(client)["expireText"] == "40 points will expire within 24 hours"


# -- errors --


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Basic {TOKEN}", TOKEN, "Bearer"])
def test_a_missing_or_unknown_token_is_refused_with_401_unauthorized(
    sandbox: Sandbox, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    with http_client(sandbox.url, headers=headers) as c:
        response = c.get(FEATURES)
    assert (response.status_code, response.json()) == (401, {"error": "Unauthorized", "code": 401})


def test_with_two_accounts_the_account_parameter_is_required(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    sandbox.add_useapi_account("second@example.com", total=7)
    response = client.get(FEATURES)
    body = response.json()
    assert response.status_code == 400
    assert body["code"] == 400 and "account" in body["error"]
    assert features(client, account="second@example.com")["totalCredits"] == 7
    assert features(client, account=ACCOUNT)["totalCredits"] == 1250


@pytest.mark.parametrize("account", ["nobody@example.com", "SANDBOX@example.com"])
def test_an_account_the_token_has_not_configured_is_refused_with_400(
    client: httpx.Client, account: str
) -> None:
    response = client.get(FEATURES, params={"account": account})
    assert response.status_code == 400
    assert response.json() == {"error": f"Account {account} is not configured", "code": 400}


def test_an_account_of_another_token_is_not_configured_for_this_one(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    sandbox.add_useapi_account("theirs@example.com", token="other-token", total=3)
    assert client.get(FEATURES, params={"account": "theirs@example.com"}).status_code == 400
    with http_client(sandbox.url, headers={"Authorization": "Bearer other-token"}) as c:
        assert features(c)["totalCredits"] == 3


def test_a_token_without_accounts_answers_400() -> None:
    with Sandbox(useapi_tokens={"empty": []}) as sb, http_client(sb.url) as c:
        response = c.get(FEATURES, headers={"Authorization": "Bearer empty"})
    assert response.status_code == 400
    assert response.json()["code"] == 400


def test_accounts_of_a_custom_token_map_start_with_no_credits() -> None:
    tokens = {"t": ["a@example.com", "b@example.com"]}
    with Sandbox(useapi_tokens=tokens) as sb, http_client(sb.url) as c:
        c.headers["Authorization"] = "Bearer t"
        body = features(c, account="b@example.com")
    assert (body["totalCredits"], body["creditExpireText"]) == (0, [])
    assert body["audio"] == {"total_credit": 0, "sub_credits": [], "base_resp": {}}


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", FEATURES), ("GET", "/v1/minimax/videos"), ("GET", "/v1/minimax/accounts")],
)
def test_other_useapi_paths_and_methods_answer_404_in_useapis_shape(
    client: httpx.Client, method: str, path: str
) -> None:
    response = client.request(method, path)
    assert (response.status_code, response.json()) == (404, {"error": "not found", "code": 404})


# -- test controls --


def test_set_credits_changes_the_next_answer_and_none_keeps_the_expiring_list(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    sandbox.set_useapi_credits(ACCOUNT, 900, audio_credits=5)
    body = features(client)
    assert (body["totalCredits"], body["totalCreditsStr"]) == (900, "900")
    assert [e["credit"] for e in body["creditExpireText"]] == [300, 500]
    assert body["audio"]["total_credit"] == 5
    sandbox.set_useapi_credits(ACCOUNT, 10, expiring=[])
    assert features(client)["creditExpireText"] == []
    assert sandbox.useapi_account(ACCOUNT) == {
        "account": ACCOUNT,
        "total": 10,
        "expiring": [],
        "audio_credits": 5,
    }


@pytest.mark.parametrize(
    "kwargs",
    [
        {"total": -1},
        {"total": 1.5},
        {"total": True},
        {"total": 100},  # the kept expiring credits (800) are more than the total
        {"total": 10, "expiring": [{"credit": 11, "endTime": 1}]},
        {"total": 10, "expiring": [{"credit": 1}]},
        {"total": 10, "expiring": "soon"},
        {"total": 10, "audio_credits": -5},
    ],
)
def test_set_credits_refuses_impossible_values_and_changes_nothing(
    sandbox: Sandbox, kwargs: dict[str, Any]
) -> None:
    before = sandbox.useapi_account(ACCOUNT)
    with pytest.raises(ValueError):
        sandbox.set_useapi_credits(ACCOUNT, **kwargs)
    assert sandbox.useapi_account(ACCOUNT) == before


def test_unknown_accounts_and_duplicate_accounts_are_refused(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="no useapi account"):
        sandbox.set_useapi_credits("nobody@example.com", 1)
    with pytest.raises(ValueError, match="already configured"):
        sandbox.add_useapi_account(ACCOUNT)


def test_admin_routes_read_set_and_add_accounts_over_http(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    admin = "/_sandbox/useapi/accounts"
    assert client.get(f"{admin}/{ACCOUNT}").json() == {"account": sandbox.useapi_account(ACCOUNT)}
    expiring = [{"credit": 20, "endTime": TODAY_END_MS}]
    body = {"total": 50, "expiring": expiring}
    assert client.put(f"{admin}/{ACCOUNT}/credits", json=body).json() == {"ok": True}
    assert features(client)["creditExpireText"] == expiring
    assert client.post(admin, json={"account": "new@example.com", "total": 9}).json() == {
        "ok": True
    }
    assert features(client, account="new@example.com")["totalCredits"] == 9
    assert client.put(f"{admin}/{ACCOUNT}/credits", json={"total": -1}).status_code == 400
    assert client.put(f"{admin}/{ACCOUNT}/credits", json={"credits": 1}).status_code == 400
    assert client.post(admin, json={"account": ACCOUNT}).status_code == 400
    assert client.get(f"{admin}/nobody@example.com").status_code == 400


# -- faults, shaped by useapi --


def test_an_http_status_fault_on_a_useapi_path_answers_in_useapis_shape(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    sandbox.add_fault(method="GET", path=r"/v1/minimax/features/?", retry_after=5)
    response = client.get(FEATURES)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "5"
    assert response.json() == {"error": "Too Many Requests", "code": 429}
    assert client.get(FEATURES).status_code == 200


def test_an_http_status_fault_may_carry_useapis_own_code_and_message(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    sandbox.add_fault(
        method="GET", path=r"/v1/minimax/.*", http_status=596, code=596, message="on hold"
    )
    response = client.get(FEATURES)
    assert (response.status_code, response.json()) == (596, {"error": "on hold", "code": 596})


def test_a_malformed_fault_on_a_useapi_path_answers_http_200_with_invalid_json(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    sandbox.add_fault(method="GET", path=r"/v1/minimax/features/?", kind="malformed")
    response = client.get(FEATURES)
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_a_dropped_connection_on_a_useapi_path_raises_a_transport_error(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    sandbox.add_fault(method="GET", path=r"/v1/minimax/features/?", kind="drop_before")
    with pytest.raises(httpx.TransportError):
        client.get(FEATURES)
    assert client.get(FEATURES).status_code == 200


def test_a_base_resp_fault_on_useapi_paths_only_is_refused(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="useapi"):
        sandbox.add_fault(method="GET", path=r"/v1/minimax/features/?", kind="base_resp")


def test_the_request_log_covers_useapi_requests(sandbox: Sandbox, client: httpx.Client) -> None:
    client.get(FEATURES, params={"account": ACCOUNT})
    client.get(f"/_sandbox/useapi/accounts/{ACCOUNT}")
    assert sandbox.requests == [{"method": "GET", "path": FEATURES, "query": {"account": ACCOUNT}}]


# -- one server, three providers --


def test_the_three_providers_answer_side_by_side_each_in_its_own_shape(sandbox: Sandbox) -> None:
    with http_client(sandbox.url) as c:
        minimax = c.post(
            "/v1/sub_account",
            params={"GroupId": SANDBOX_MINIMAX_GROUP_ID},
            json={"account_name": "x"},
            headers={"Authorization": f"Bearer {SANDBOX_MINIMAX_API_KEY}"},
        )
        xai = c.get(
            f"/v1/billing/teams/{SANDBOX_XAI_TEAM_ID}/prepaid/balance",
            headers={"Authorization": f"Bearer {SANDBOX_XAI_MANAGEMENT_KEY}"},
        )
        useapi = c.get(FEATURES, headers={"Authorization": f"Bearer {TOKEN}"})
        # Each provider's key is unknown to the others.
        refused = [
            c.post(
                "/v1/sub_account",
                params={"GroupId": SANDBOX_MINIMAX_GROUP_ID},
                headers={"Authorization": f"Bearer {TOKEN}"},
            ),
            c.get("/auth/management-keys/validation", headers={"Authorization": f"Bearer {TOKEN}"}),
            c.get(FEATURES, headers={"Authorization": f"Bearer {SANDBOX_MINIMAX_API_KEY}"}),
        ]
    assert minimax.json()["base_resp"]["status_code"] == 0
    assert xai.json()["total"] == {"val": "-2500"}
    assert useapi.json()["totalCredits"] == 1250
    assert refused[0].json()["base_resp"]["status_code"] == 1004
    assert refused[1].status_code == 401 and "code" in refused[1].json()
    assert refused[2].json() == {"error": "Unauthorized", "code": 401}


# -- concurrency --


def test_concurrent_reads_during_credit_changes_always_see_a_whole_state(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    states = [(100, [{"credit": 100, "endTime": TODAY_END_MS}]), (5, [])]

    def flip(i: int) -> None:
        total, expiring = states[i % 2]
        sandbox.set_useapi_credits(ACCOUNT, total, expiring=expiring)

    def read(i: int) -> dict[str, Any]:
        return features(client)

    with ThreadPoolExecutor(max_workers=8) as pool:
        flips = pool.map(flip, range(100))
        reads = list(pool.map(read, range(100)))
        list(flips)
    for body in reads:
        assert str(body["totalCredits"]) == body["totalCreditsStr"]
        assert sum(e["credit"] for e in body["creditExpireText"]) <= body["totalCredits"]
        if body["totalCredits"] in (100, 5):
            assert body["creditExpireText"] == states[0 if body["totalCredits"] == 100 else 1][1]
