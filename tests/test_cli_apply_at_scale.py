"""End to end: how apply records and overlaps its work, as the journal and the sandbox see it."""

from __future__ import annotations

from reconciler.state import LocalBackend

BILLS = "/v1/batch_query_bill"


def bills_queries(workdir) -> int:
    return sum(r["path"] == BILLS for r in workdir.sandbox.requests)


def names(count: int) -> str:
    return "".join(f"- name: acct-{i}\n" for i in range(count))


def test_apply_checks_access_once_beside_its_first_changes(workdir):
    workdir.config(names(3))

    result = workdir.run("apply", "--auto-approve", "--parallelism", "2")

    assert result.code == 0, result.output
    assert bills_queries(workdir) == 1  # not once for the plan and again for the apply
    assert len(workdir.accounts()) == 3


def test_an_access_check_that_fails_stops_new_changes_and_is_the_error(workdir):
    workdir.config(names(6))
    # The creates are slow, the check fails at once: at most the change in flight goes out.
    workdir.sandbox.add_fault("POST", "/v1/sub_account", kind="latency", delay=0.5, times=1)
    workdir.sandbox.add_fault("GET", BILLS, kind="base_resp", code=1004, message="token mismatch")

    result = workdir.run("apply", "--auto-approve", "--parallelism", "1")

    assert result.code == 1
    assert "Error: MiniMax read bills" in result.stderr
    assert "authorization failed (code 1004: token mismatch)" in result.stderr
    created = len(workdir.accounts())
    assert created <= 1
    assert f"{created} succeeded, 0 failed, {6 - created} skipped" in result.stdout
    assert result.stdout.count("not started: the access check failed") == 6 - created
    assert "Traceback" not in result.output


def test_an_apply_with_nothing_to_change_still_checks_access(workdir):
    workdir.config(names(1))
    assert workdir.run("apply", "--auto-approve").code == 0

    result = workdir.run("apply", "--auto-approve", env={"MINIMAX_API_KEY": "wrong-key-123"})

    assert result.code == 1
    assert "authorization failed (code 1004" in result.stderr
    assert "No changes." in result.stdout


def test_an_apply_leaves_one_folded_state_file_and_no_journal(workdir):
    workdir.config(names(20))

    assert workdir.run("apply", "--auto-approve", "--parallelism", "8").code == 0

    files = sorted(p.name for p in (workdir.path / "state").iterdir())
    assert files == ["reconciler.json", "reconciler.json.lock", "reconciler.secrets.json"]
    state = LocalBackend(workdir.path / "state" / "reconciler.json").read()
    assert state.serial == 40  # pending, then done: one recorded change each
    assert len(state.resources) == 20
    assert all(not record["pending"] for record in state.resources.values())
    for index in (0, 19):
        shown = workdir.run("secrets", "show", f'minimax.cn-main.sub_account["acct-{index}"]')
        assert shown.stdout.strip() == workdir.accounts()[f"acct-{index}"]["token"]
