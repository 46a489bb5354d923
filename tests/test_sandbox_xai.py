"""The sandbox emulates xAI's Management API billing endpoints over real loopback HTTP.

What these tests pin down is the wire behaviour ``shared/providers/xai.md`` describes
(money as USD-cent strings, ``{"code", "error"}`` errors, team-scoped management keys),
the admin hooks tests use to change a team behind the tool's back, and faults answered
in xAI's own error shape. The sandbox clock is pinned so "this month" is 2026-03.
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
    SANDBOX_XAI_MANAGEMENT_KEY,
    SANDBOX_XAI_READONLY_KEY,
    SANDBOX_XAI_TEAM_ID,
    Sandbox,
    XaiKey,
    xai_ledger,
)

TEAM = SANDBOX_XAI_TEAM_ID
KEY = SANDBOX_XAI_MANAGEMENT_KEY
OTHER_TEAM = "0c4e8b2a-1d3f-4a5b-9c6d-7e8f9a0b1c2d"
OTHER_KEY = "other-team-key"
BASE = f"/v1/billing/teams/{TEAM}"
NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC).timestamp()
PERMISSION_DENIED = {
    "code": "The caller does not have permission to execute the specified operation",
    "error": "The caller does not have permission to execute the specified operation",
}
# Every billing route the emulator serves, with a valid body where it needs one.
BILLING_CALLS = [
    ("GET", "/postpaid/spending-limits", None),
    ("POST", "/postpaid/spending-limits", {"desiredSoftSpendingLimit": {"val": "100"}}),
    ("GET", "/postpaid/invoice/preview", None),
    ("GET", "/prepaid/balance", None),
    ("POST", "/usage", None),  # filled in with usage_body() by the tests
    ("GET", "/invoices", None),
]


def http_client(base_url: str, **kwargs: Any) -> httpx.Client:
    """Plain HTTP on loopback: verify=False skips building a TLS context (~40 ms each)."""
    return httpx.Client(base_url=base_url, verify=False, timeout=5.0, **kwargs)


def usage_body(
    start: str = "2026-03-01 00:00:00",
    end: str = "2026-04-01 00:00:00",
    group_by: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "analyticsRequest": {
            "timeRange": {"startTime": start, "endTime": end, "timezone": "Etc/GMT"},
            "timeUnit": "TIME_UNIT_DAY",
            "values": [{"name": "usd", "aggregation": "AGGREGATION_SUM"}],
            "groupBy": ["description"] if group_by is None else group_by,
            "filters": [],
        }
    }


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    keys: dict[str, str | XaiKey] = {
        KEY: TEAM,
        SANDBOX_XAI_READONLY_KEY: XaiKey(TEAM, acls=("api-key:read",)),
        OTHER_KEY: OTHER_TEAM,
    }
    with Sandbox(xai_keys=keys, clock=lambda: NOW) as sb:
        yield sb


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with http_client(sandbox.url, headers={"Authorization": f"Bearer {KEY}"}) as c:
        yield c


def call(client: httpx.Client, method: str, suffix: str, body: Any = None) -> httpx.Response:
    if suffix == "/usage" and body is None:
        body = usage_body()
    return client.request(method, BASE + suffix, json=body)


def limits(client: httpx.Client) -> dict[str, Any]:
    response = client.get(f"{BASE}/postpaid/spending-limits")
    assert response.status_code == 200
    result: dict[str, Any] = response.json()["spendingLimits"]
    return result


def set_soft(client: httpx.Client, val: Any) -> httpx.Response:
    return client.post(
        f"{BASE}/postpaid/spending-limits", json={"desiredSoftSpendingLimit": {"val": val}}
    )


# -- key validation and auth --


def test_key_validation_answers_the_keys_team_scope_and_acls(client: httpx.Client) -> None:
    response = client.get("/auth/management-keys/validation")
    body = response.json()
    assert response.status_code == 200
    assert body["teamId"] == body["scopeId"] == TEAM
    assert body["scope"] == "SCOPE_TEAM"
    assert {"billing:read", "billing:write"} <= set(body["acls"])
    assert isinstance(body["apiKeyId"], str) and body["apiKeyId"]
    assert isinstance(body["name"], str)
    assert KEY not in body["redactedApiKey"] and "..." in body["redactedApiKey"]


def test_the_readonly_key_validates_but_holds_no_billing_acl(sandbox: Sandbox) -> None:
    headers = {"Authorization": f"Bearer {SANDBOX_XAI_READONLY_KEY}"}
    with http_client(sandbox.url, headers=headers) as c:
        body = c.get("/auth/management-keys/validation").json()
    assert body["teamId"] == TEAM
    assert not any(acl.startswith("billing") for acl in body["acls"])


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Basic {KEY}", KEY, "Bearer"])
@pytest.mark.parametrize(
    "path", ["/auth/management-keys/validation", f"{BASE}/postpaid/spending-limits"]
)
def test_a_missing_or_unknown_key_is_refused_with_401_in_xais_error_shape(
    sandbox: Sandbox, authorization: str | None, path: str
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    with http_client(sandbox.url, headers=headers) as c:
        response = c.get(path)
    body = response.json()
    assert response.status_code == 401
    assert set(body) == {"code", "error"}
    assert body["code"] == "The request does not have valid authentication credentials"
    assert body["error"]


def test_the_bearer_scheme_and_header_name_are_case_insensitive(sandbox: Sandbox) -> None:
    with http_client(sandbox.url, headers={"authorization": f"bearer {KEY}"}) as c:
        assert c.get(f"{BASE}/prepaid/balance").status_code == 200


@pytest.mark.parametrize(("method", "suffix", "body"), BILLING_CALLS)
def test_a_key_used_on_another_teams_path_is_refused_with_403(
    sandbox: Sandbox, client: httpx.Client, method: str, suffix: str, body: Any
) -> None:
    body = usage_body() if suffix == "/usage" else body
    response = client.request(method, f"/v1/billing/teams/{OTHER_TEAM}{suffix}", json=body)
    assert (response.status_code, response.json()) == (403, PERMISSION_DENIED)
    assert sandbox.xai_spending_limits(OTHER_TEAM)["softSl"] == {"val": "0"}


@pytest.mark.parametrize(("method", "suffix", "body"), BILLING_CALLS)
def test_every_billing_call_with_the_readonly_key_answers_403_permission_denied(
    sandbox: Sandbox, method: str, suffix: str, body: Any
) -> None:
    headers = {"Authorization": f"Bearer {SANDBOX_XAI_READONLY_KEY}"}
    with http_client(sandbox.url, headers=headers) as c:
        response = call(c, method, suffix, body)
    assert (response.status_code, response.json()) == (403, PERMISSION_DENIED)
    assert sandbox.xai_spending_limits(TEAM)["softSl"] == {"val": "0"}


def test_a_key_with_billing_read_alone_reads_but_cannot_set_the_soft_limit() -> None:
    keys = {"reader": XaiKey(TEAM, acls=("billing:read",))}
    with Sandbox(xai_keys=keys) as sb, http_client(sb.url) as c:
        c.headers["Authorization"] = "Bearer reader"
        assert c.get(f"{BASE}/postpaid/spending-limits").status_code == 200
        response = set_soft(c, "100")
        assert (response.status_code, response.json()) == (403, PERMISSION_DENIED)


def test_the_default_sandbox_knows_the_sandbox_team_and_both_keys() -> None:
    with Sandbox() as sb, http_client(sb.url) as c:
        full = {"Authorization": "Bearer sandbox-xai-management-key"}
        readonly = {"Authorization": f"Bearer {SANDBOX_XAI_READONLY_KEY}"}
        assert c.get(f"{BASE}/prepaid/balance", headers=full).status_code == 200
        assert c.get(f"{BASE}/prepaid/balance", headers=readonly).status_code == 403
        assert c.get(f"{BASE}/prepaid/balance", headers=full).json()["total"] == {"val": "-2500"}


# -- spending limits --


def test_spending_limits_start_at_soft_0_and_a_1000_dollar_hard_limit_without_override(
    client: httpx.Client,
) -> None:
    assert limits(client) == {
        "softSl": {"val": "0"},
        "effectiveSl": {"val": "0"},
        "hardSlAuto": {"val": "100000"},
        "effectiveHardSl": {"val": "100000"},
    }


def test_setting_the_soft_limit_answers_it_and_the_next_read_shows_it(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    response = set_soft(client, "20000")
    assert (response.status_code, response.json()) == (
        200,
        {"thisBpSoftSpendingLimit": {"val": "20000"}},
    )
    read = limits(client)
    assert read["softSl"] == read["effectiveSl"] == {"val": "20000"}
    assert sandbox.xai_spending_limits(TEAM) == read


@pytest.mark.parametrize("val", ["100000", "0"])
def test_a_soft_limit_of_zero_or_exactly_the_hard_limit_is_accepted(
    client: httpx.Client, val: str
) -> None:
    assert set_soft(client, val).status_code == 200
    assert limits(client)["softSl"] == {"val": val}


def test_a_soft_limit_above_the_effective_hard_limit_is_refused_with_400_and_not_stored(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    set_soft(client, "5000")
    response = set_soft(client, "100001")
    body = response.json()
    assert response.status_code == 400
    assert body["code"] == "Client specified an invalid argument"
    assert "100001" in body["error"] and "100000" in body["error"]
    assert limits(client)["softSl"] == {"val": "5000"}


def test_a_hard_limit_override_is_shown_and_wins_over_hard_sl_auto(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    sandbox.set_xai_hard_limit(TEAM, 100000, override="250000")
    read = limits(client)
    assert read["hardSlOverride"] == {"val": "250000"}
    assert read["effectiveHardSl"] == {"val": "250000"}
    assert read["hardSlAuto"] == {"val": "100000"}
    assert set_soft(client, "200000").status_code == 200
    sandbox.set_xai_hard_limit(TEAM, 100000)
    assert "hardSlOverride" not in limits(client)


def test_the_effective_limit_is_the_smaller_of_the_soft_and_the_effective_hard_limit(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    set_soft(client, "30000")
    sandbox.set_xai_hard_limit(TEAM, "20000")
    read = limits(client)
    assert read["softSl"] == {"val": "30000"}
    assert read["effectiveSl"] == read["effectiveHardSl"] == {"val": "20000"}


def test_a_soft_limit_changed_behind_the_tools_back_is_seen_by_the_next_read(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    set_soft(client, "20000")
    sandbox.set_xai_soft_limit(TEAM, "7500")
    assert limits(client)["softSl"] == {"val": "7500"}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"desiredSoftSpendingLimit": "20000"},
        {"desiredSoftSpendingLimit": {"val": 20000}},
        {"desiredSoftSpendingLimit": {"val": "-1"}},
        {"desiredSoftSpendingLimit": {"val": "200.00"}},
        {"desiredSoftSpendingLimit": {"val": "２００"}},  # full-width digits are not ASCII
        {"desiredSoftSpendingLimit": {"val": ""}},
        {"desiredSoftSpendingLimit": {"val": " 200"}},
        {"desiredSoftSpendingLimit": {"val": "200", "currency": "USD"}},
        {"desiredSoftSpendingLimit": {"val": "200"}, "extra": 1},
        {"softSl": {"val": "200"}},
        [{"desiredSoftSpendingLimit": {"val": "200"}}],
    ],
)
def test_a_soft_limit_body_not_of_the_documented_shape_is_refused_with_400(
    client: httpx.Client, body: Any
) -> None:
    response = client.post(f"{BASE}/postpaid/spending-limits", json=body)
    assert response.status_code == 400
    assert response.json()["code"] == "Client specified an invalid argument"
    assert limits(client)["softSl"] == {"val": "0"}


@pytest.mark.parametrize("content", [b"", b"{not json", b"\xff"])
def test_a_soft_limit_body_that_is_not_json_is_refused_with_400(
    client: httpx.Client, content: bytes
) -> None:
    response = client.post(f"{BASE}/postpaid/spending-limits", content=content)
    assert response.status_code == 400
    assert set(response.json()) == {"code", "error"}


# -- usage, invoice preview, prepaid balance, invoices --


def test_usage_answers_daily_usd_floats_per_description_with_an_exclusive_end(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    sandbox.add_xai_usage(TEAM, "2026-02-28", "grok-4", "9")  # before the range
    sandbox.add_xai_usage(TEAM, "2026-03-01", "grok-4", "0.75973725")
    sandbox.add_xai_usage(TEAM, "2026-03-01", "grok-4", "0.25")
    sandbox.add_xai_usage(TEAM, "2026-03-02", "grok-4", "1.5")
    sandbox.add_xai_usage(TEAM, "2026-03-03", "grok-2-image", "0.14")
    sandbox.add_xai_usage(TEAM, "2026-03-04", "grok-4", "5")  # the exclusive end
    body = usage_body("2026-03-01 00:00:00", "2026-03-04 00:00:00")
    response = client.post(f"{BASE}/usage", json=body)
    assert response.status_code == 200
    assert response.json() == {
        "timeSeries": [
            {
                "group": ["grok-2-image"],
                "groupLabels": ["grok-2-image"],
                "dataPoints": [{"timestamp": "2026-03-03T00:00:00Z", "values": [0.14]}],
            },
            {
                "group": ["grok-4"],
                "groupLabels": ["grok-4"],
                "dataPoints": [
                    {"timestamp": "2026-03-01T00:00:00Z", "values": [1.00973725]},
                    {"timestamp": "2026-03-02T00:00:00Z", "values": [1.5]},
                ],
            },
        ],
        "limitReached": False,
    }


def test_usage_without_group_by_answers_one_series_with_an_empty_group(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    sandbox.add_xai_usage(TEAM, "2026-03-01", "grok-4", "1")
    sandbox.add_xai_usage(TEAM, "2026-03-01", "grok-3", "2")
    [series] = client.post(f"{BASE}/usage", json=usage_body(group_by=[])).json()["timeSeries"]
    assert series["group"] == series["groupLabels"] == []
    assert series["dataPoints"] == [{"timestamp": "2026-03-01T00:00:00Z", "values": [3.0]}]


def test_usage_with_no_rows_answers_no_series(client: httpx.Client) -> None:
    assert client.post(f"{BASE}/usage", json=usage_body()).json() == {
        "timeSeries": [],
        "limitReached": False,
    }


def test_usage_past_the_max_series_answers_a_subset_and_limit_reached(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    for model in ("grok-a", "grok-b", "grok-c"):
        sandbox.add_xai_usage(TEAM, "2026-03-02", model, "1")
    sandbox.set_xai_usage_max_series(TEAM, 2)
    body = client.post(f"{BASE}/usage", json=usage_body()).json()
    assert body["limitReached"] is True
    assert [s["group"] for s in body["timeSeries"]] == [["grok-a"], ["grok-b"]]
    sandbox.set_xai_usage_max_series(TEAM, 3)
    assert client.post(f"{BASE}/usage", json=usage_body()).json()["limitReached"] is False


def _mutate(path: str, value: Any) -> dict[str, Any]:
    """A valid usage body with one field (dotted path) replaced, or removed for ...."""
    body = usage_body()
    *parents, last = path.split(".")
    target: Any = body
    for name in parents:
        target = target[name]
    if value is Ellipsis:
        del target[last]
    else:
        target[last] = value
    return body


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"timeRange": {}},
        _mutate("analyticsRequest", []),
        _mutate("analyticsRequest.timeRange", ...),
        _mutate("analyticsRequest.timeRange.startTime", "2026-03-01"),
        _mutate("analyticsRequest.timeRange.startTime", "2026-03-01T00:00:00"),
        _mutate("analyticsRequest.timeRange.endTime", "2026-02-30 00:00:00"),
        _mutate("analyticsRequest.timeRange.endTime", "2026-03-01 00:00:00"),  # start == end
        _mutate("analyticsRequest.timeRange.timezone", 5),
        _mutate("analyticsRequest.timeRange.zone", "UTC"),
        _mutate("analyticsRequest.timeUnit", ...),
        _mutate("analyticsRequest.timeUnit", "DAY"),
        _mutate("analyticsRequest.values", []),
        _mutate("analyticsRequest.values", [{"name": "tokens", "aggregation": "AGGREGATION_SUM"}]),
        _mutate("analyticsRequest.values", [{"name": "usd"}]),
        _mutate("analyticsRequest.groupBy", ["model"]),
        _mutate("analyticsRequest.groupBy", "description"),
        _mutate("analyticsRequest.filters", [{"description": "grok-4"}]),
        _mutate("analyticsRequest.limit", 10),
    ],
)
def test_a_usage_request_not_of_the_documented_shape_is_refused_with_400(
    client: httpx.Client, body: Any
) -> None:
    response = client.post(f"{BASE}/usage", json=body)
    assert response.status_code == 400
    assert response.json()["code"] == "Client specified an invalid argument"


def test_invoice_preview_bills_this_months_usage_in_cents_with_the_effective_limit(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    sandbox.add_xai_usage(TEAM, "2026-02-27", "grok-4", "50")  # last month: not in the preview
    sandbox.add_xai_usage(TEAM, "2026-03-01", "grok-4", "12.004")
    sandbox.add_xai_usage(TEAM, "2026-03-14", "grok-4", "0.001")
    sandbox.add_xai_usage(TEAM, "2026-03-14", "grok-3-mini", "0.50")
    set_soft(client, "20000")
    response = client.get(f"{BASE}/postpaid/invoice/preview")
    body = response.json()
    assert response.status_code == 200
    assert body["billingCycle"] == {"year": 2026, "month": 3}
    assert body["effectiveSpendingLimit"] == "20000"
    assert body["defaultCredits"] == "0"
    invoice = body["coreInvoice"]
    assert invoice["amountAfterVat"] == invoice["amountBeforeVat"] == "1251"
    assert invoice["lines"] == [
        {"description": "grok-3-mini", "amount": {"val": "50"}},
        {"description": "grok-4", "amount": {"val": "1201"}},  # 12.005 dollars, half up
    ]


def test_usage_the_preview_and_an_invoice_built_from_usage_agree_on_the_month(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    for day, model, usd in [("01", "grok-4", "3.25"), ("09", "grok-4", "1"), ("20", "a", "0.5")]:
        sandbox.add_xai_usage(TEAM, f"2026-03-{day}", model, usd)
    series = client.post(f"{BASE}/usage", json=usage_body()).json()["timeSeries"]
    usage_cents = round(sum(p["values"][0] for s in series for p in s["dataPoints"]) * 100)
    preview = client.get(f"{BASE}/postpaid/invoice/preview").json()["coreInvoice"]
    invoice_id = sandbox.add_xai_invoice(TEAM, 2026, 3)
    [invoice] = client.get(f"{BASE}/invoices").json()["invoices"]
    assert invoice["invoiceId"] == invoice_id
    assert usage_cents == int(preview["amountAfterVat"]) == int(invoice["total"]["val"]) == 475
    assert invoice["lines"] == preview["lines"]


def test_prepaid_balance_lists_changes_with_purchases_negative_and_their_total(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    assert client.get(f"{BASE}/prepaid/balance").json() == {"changes": [], "total": {"val": "0"}}
    sandbox.add_xai_balance_change(TEAM, "-5000", create_time="2026-03-02T10:00:00Z")
    sandbox.add_xai_balance_change(TEAM, -2500, origin="AUTO_PURCHASE")
    sandbox.add_xai_balance_change(TEAM, 1200, origin="SPEND")
    body = client.get(f"{BASE}/prepaid/balance").json()
    assert body["total"] == {"val": "-6300"}  # $63.00 of credit left
    first, second, third = body["changes"]
    assert first["changeOrigin"] == "PURCHASE"
    assert first["amount"] == {"val": "-5000"}
    assert first["createTime"] == "2026-03-02T10:00:00Z"
    assert second["changeOrigin"] == "AUTO_PURCHASE"
    assert second["createTime"] == "2026-03-15T12:00:00Z"  # the sandbox clock
    assert third["amount"] == {"val": "1200"}
    preview = client.get(f"{BASE}/postpaid/invoice/preview").json()["coreInvoice"]
    assert preview["prepaidCredits"] == {"val": "6300"}


def test_invoices_are_filtered_by_billing_cycle_since_and_ids(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    lines: list[dict[str, Any]] = [
        {"description": "grok-4", "cents": 1000},
        {"description": "grok-3", "cents": "234"},
    ]
    december = sandbox.add_xai_invoice(TEAM, 2025, 12, lines=lines, tax_cents=99)
    january = sandbox.add_xai_invoice(TEAM, 2026, 1, lines=[], status="INVOICE_STATUS_OPEN")
    february = sandbox.add_xai_invoice(TEAM, 2026, 2, lines=lines)

    def ids(**params: Any) -> list[str]:
        response = client.get(f"{BASE}/invoices", params=params)
        assert response.status_code == 200
        return [invoice["invoiceId"] for invoice in response.json()["invoices"]]

    assert ids() == [december, january, february]
    assert ids(**{"billingCycle.year": 2026}) == [january, february]
    assert ids(**{"billingCycle.year": 2026, "billingCycle.month": 2}) == [february]
    assert ids(**{"since.year": 2026, "since.month": 2}) == [february]
    assert ids(**{"invoiceIds.invoiceIds": [december, february]}) == [december, february]
    invoice = client.get(f"{BASE}/invoices").json()["invoices"][0]
    assert invoice["subtotal"] == {"val": "1234"}
    assert invoice["tax"] == {"val": "99"}
    assert invoice["total"] == {"val": "1333"}
    assert invoice["billingCycle"] == {"year": 2025, "month": 12}
    assert invoice["invoiceStatus"] == "INVOICE_STATUS_PAID"
    assert invoice["invoiceNumber"]
    assert invoice["lines"][0] == {"description": "grok-4", "amount": {"val": "1000"}}


@pytest.mark.parametrize(
    "params", [{"billingCycle.year": "last"}, {"billingCycle.month": "13"}, {"since.year": "-1"}]
)
def test_invoices_with_a_bad_number_in_the_query_are_refused_with_400(
    client: httpx.Client, params: dict[str, str]
) -> None:
    response = client.get(f"{BASE}/invoices", params=params)
    assert response.status_code == 400
    assert response.json()["code"] == "Client specified an invalid argument"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", f"{BASE}/prepaid/top-up"),
        ("GET", f"{BASE}/payment-method"),
        ("GET", f"{BASE}/billing-info"),
        ("PUT", f"{BASE}/postpaid/spending-limits"),
        ("GET", "/auth/teams/x/api-keys"),
    ],
)
def test_paths_the_sandbox_does_not_emulate_answer_404_in_xais_shape(
    client: httpx.Client, method: str, path: str
) -> None:
    response = client.request(method, path, json={"amount": {"val": "500"}})
    assert response.status_code == 404
    assert response.json()["code"] == "Some requested entity was not found"


# -- admin hooks --


def test_admin_routes_read_and_change_a_team_over_http(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    admin = f"/_sandbox/xai/{TEAM}"
    assert client.put(f"{admin}/soft_limit", json={"cents": "1500"}).json() == {"ok": True}
    assert client.put(f"{admin}/hard_limit", json={"cents": 90000, "override": 95000}).json() == {
        "ok": True
    }
    read = client.get(f"{admin}/spending_limits").json()
    assert read == {"spendingLimits": limits(client)}
    assert read["spendingLimits"]["softSl"] == {"val": "1500"}
    assert read["spendingLimits"]["effectiveHardSl"] == {"val": "95000"}
    usage = {"day": "2026-03-03", "description": "grok-4", "usd": "2.50"}
    assert client.post(f"{admin}/usage", json=usage).json() == {"ok": True}
    assert client.put(f"{admin}/usage_max_series", json={"max_series": 0}).json() == {"ok": True}
    assert client.post(f"{BASE}/usage", json=usage_body()).json() == {
        "timeSeries": [],
        "limitReached": True,
    }
    change = {"cents": "-1000", "origin": "PURCHASE"}
    assert client.post(f"{admin}/balance_changes", json=change).json() == {"ok": True}
    assert client.get(f"{BASE}/prepaid/balance").json()["total"] == {"val": "-1000"}
    added = client.post(f"{admin}/invoices", json={"year": 2026, "month": 3}).json()
    assert added["ok"] is True
    [invoice] = client.get(f"{BASE}/invoices").json()["invoices"]
    assert invoice["invoiceId"] == added["invoiceId"]
    assert invoice["total"] == {"val": "250"}


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("PUT", "soft_limit", {"cents": 12.5}),
        ("PUT", "soft_limit", {"cents": "-1"}),
        ("PUT", "soft_limit", {"cents": True}),
        ("PUT", "soft_limit", {"dollars": "5"}),
        ("PUT", "hard_limit", {"cents": "1e5"}),
        ("POST", "usage", {"day": "2026-3-3", "description": "grok-4", "usd": "1"}),
        ("POST", "usage", {"day": "2026-03-03", "description": "", "usd": "1"}),
        ("POST", "usage", {"day": "2026-03-03", "description": "grok-4", "usd": 1.5}),
        ("POST", "usage", {"day": "2026-03-03", "description": "grok-4", "usd": "-1"}),
        ("PUT", "usage_max_series", {"max_series": -1}),
        ("POST", "balance_changes", {"cents": "5.00"}),
        ("POST", "invoices", {"year": 2026, "month": 13}),
        ("POST", "invoices", {"year": 2026, "month": 1, "lines": [{"cents": 1}]}),
    ],
)
def test_admin_refuses_bad_values_with_http_400_and_changes_nothing(
    sandbox: Sandbox, client: httpx.Client, method: str, suffix: str, body: dict[str, Any]
) -> None:
    before = sandbox.xai_spending_limits(TEAM)
    response = client.request(method, f"/_sandbox/xai/{TEAM}/{suffix}", json=body)
    assert response.status_code == 400
    assert response.json()["ok"] is False
    assert sandbox.xai_spending_limits(TEAM) == before
    assert client.get(f"{BASE}/invoices").json() == {"invoices": []}


# -- faults, shaped by xAI --


def test_an_http_status_fault_on_an_xai_path_answers_in_xais_shape_with_retry_after(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    sandbox.add_fault(method="POST", path=r".*/postpaid/spending-limits", retry_after=2)
    response = set_soft(client, "20000")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "2"
    assert response.json() == {
        "code": "Some resource has been exhausted",
        "error": "Too Many Requests",
    }
    assert limits(client)["softSl"] == {"val": "0"}
    assert set_soft(client, "20000").status_code == 200


def test_an_http_status_fault_message_becomes_the_error_and_a_5xx_maps_its_status_text(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    sandbox.add_fault(method="GET", path=r".*", http_status=503, retry_after=None, message="busy")
    response = client.get(f"{BASE}/prepaid/balance")
    assert response.status_code == 503
    assert "retry-after" not in response.headers
    assert response.json() == {"code": "The service is currently unavailable", "error": "busy"}


def test_http_status_after_sets_the_limit_then_answers_like_a_failing_gateway(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    sandbox.add_fault(
        path=r".*/postpaid/spending-limits", kind="http_status_after", http_status=504
    )
    response = set_soft(client, "20000")
    assert response.status_code == 504
    assert set(response.json()) == {"code", "error"}
    assert limits(client)["softSl"] == {"val": "20000"}


def test_drop_before_leaves_the_limit_unchanged_and_drop_after_changes_it(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    sandbox.add_fault(path=r".*/postpaid/spending-limits", kind="drop_before")
    with pytest.raises(httpx.TransportError):
        set_soft(client, "1000")
    assert limits(client)["softSl"] == {"val": "0"}
    sandbox.add_fault(path=r".*/postpaid/spending-limits", kind="drop_after")
    with pytest.raises(httpx.TransportError):
        set_soft(client, "2000")
    assert limits(client)["softSl"] == {"val": "2000"}


def test_a_malformed_fault_on_an_xai_path_answers_http_200_with_invalid_json(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    sandbox.add_fault(method="GET", path=r".*/spending-limits", kind="malformed")
    response = client.get(f"{BASE}/postpaid/spending-limits")
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_a_base_resp_fault_whose_path_only_matches_xai_is_refused(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="base_resp"):
        sandbox.add_fault(path=r"/v1/billing/teams/.*/usage", kind="base_resp")


def test_a_broad_base_resp_fault_passes_over_xai_and_fires_on_minimax(sandbox: Sandbox) -> None:
    sandbox.add_fault(method="*", path=r"/v1/.*", kind="base_resp", code=1002)
    with http_client(sandbox.url) as c:
        xai = c.get(f"{BASE}/prepaid/balance", headers={"Authorization": f"Bearer {KEY}"})
        minimax = c.post(
            "/v1/sub_account",
            params={"GroupId": SANDBOX_MINIMAX_GROUP_ID},
            json={"account_name": "x"},
            headers={"Authorization": f"Bearer {SANDBOX_MINIMAX_API_KEY}"},
        )
    assert xai.status_code == 200
    assert minimax.json()["base_resp"]["status_code"] == 1002


def test_a_sandbox_bug_in_an_xai_handler_answers_500_in_xais_shape(
    client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: xai_ledger.Team) -> dict[str, Any]:
        raise RuntimeError("boom")

    monkeypatch.setattr(xai_ledger.Team, "balance", broken)
    response = client.get(f"{BASE}/prepaid/balance")
    assert response.status_code == 500
    assert response.json() == {
        "code": "Internal error",
        "error": "sandbox internal error: RuntimeError: boom",
    }


def test_the_request_log_covers_xai_requests(sandbox: Sandbox, client: httpx.Client) -> None:
    client.get("/auth/management-keys/validation")
    client.get(f"{BASE}/invoices", params={"billingCycle.year": "2026"})
    client.get(f"/_sandbox/xai/{TEAM}/spending_limits")
    assert sandbox.requests == [
        {"method": "GET", "path": "/auth/management-keys/validation", "query": {}},
        {"method": "GET", "path": f"{BASE}/invoices", "query": {"billingCycle.year": "2026"}},
    ]


# -- concurrency --


def test_concurrent_limit_writes_and_reads_see_only_whole_consistent_states(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    values = [str(cents) for cents in range(0, 100_000, 2_500)]

    def write_then_read(val: str) -> tuple[int, dict[str, Any]]:
        return set_soft(client, val).status_code, limits(client)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(write_then_read, values))
    assert {status for status, _ in results} == {200}
    for _, read in results:
        assert read["softSl"]["val"] in values
        assert read["effectiveSl"] == read["softSl"]  # the hard limit is above every value
    assert limits(client)["softSl"]["val"] in values


def test_concurrent_usage_rows_are_all_counted(sandbox: Sandbox, client: httpx.Client) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda i: sandbox.add_xai_usage(TEAM, "2026-03-05", "m", "0.01"), range(200)))
    preview = client.get(f"{BASE}/postpaid/invoice/preview").json()["coreInvoice"]
    assert preview["amountAfterVat"] == "200"
