"""End to end: how apply records and overlaps its work, as the journal and the sandbox see it."""

from __future__ import annotations

from reconciler.state import LocalBackend

BILLS = "/v1/batch_query_bill"


def bills_queries(workdir) -> int:
    return sum(r["path"] == BILLS for r in workdir.sandbox.requests)


def names(count: int) -> str:
    return "".join(f"- name: acct-{i}\n" for i in range(count))


def test_apply_reads_the_bills_once_for_its_plan_and_not_again(workdir):
    workdir.config(names(3))
    assert workdir.run("plan").code == 0
    per_plan = bills_queries(workdir)  # one query per calendar month the window spans

    result = workdir.run("apply", "--auto-approve", "--parallelism", "2")

    assert result.code == 0, result.output
    assert bills_queries(workdir) == 2 * per_plan  # the apply's plan, and no separate check
    assert len(workdir.accounts()) == 3


def test_a_bills_read_that_fails_stops_the_apply_before_any_change(workdir):
    workdir.config(names(6))
    workdir.sandbox.add_fault("GET", BILLS, kind="base_resp", code=1004, message="token mismatch")

    result = workdir.run("apply", "--auto-approve", "--parallelism", "1")

    assert result.code == 1
    assert "Error: MiniMax read bills" in result.stderr
    assert "authorization failed (code 1004: token mismatch)" in result.stderr
    assert workdir.accounts() == {}
    assert not any(r["method"] == "POST" for r in workdir.sandbox.requests)
    assert "Traceback" not in result.output


def test_an_apply_with_nothing_to_change_still_checks_the_key(workdir):
    workdir.config(names(1))
    assert workdir.run("apply", "--auto-approve").code == 0

    result = workdir.run("apply", "--auto-approve", env={"MINIMAX_API_KEY": "wrong-key-123"})

    assert result.code == 1  # the key is checked by the bills read before planning
    assert "authorization failed (code 1004" in result.stderr


def test_an_apply_leaves_one_folded_state_file_and_no_journal(workdir):
    workdir.config(names(20))

    assert workdir.run("apply", "--auto-approve", "--parallelism", "8").code == 0

    files = sorted(p.name for p in (workdir.path / "state").iterdir())
    assert files == ["reconciler.json", "reconciler.json.lock", "reconciler.secrets.json"]
    state = LocalBackend(workdir.path / "state" / "reconciler.json").read()
    assert state.serial == 41  # who applies it and its secrets, then pending and done each
    assert len(state.resources) == 20
    assert all(not record["pending"] for record in state.resources.values())
    for index in (0, 19):
        shown = workdir.run("secrets", "show", f'minimax.cn-main.sub_account["acct-{index}"]')
        assert shown.stdout.strip() == workdir.accounts()[f"acct-{index}"]["token"]
