"""End to end, as a new user in CI would try it: saved plans, where the state is found,
strict --target, the blast-radius guard, and plans that tell the truth early.

The CLI runs against the sandbox; ``run_at`` runs the ``reconciler`` command from any
directory (a CI job runs from wherever its checkout is).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import jsonschema
from cli_runner import run_at
from conftest import GROUP

from reconciler.schema import load_schema

THREE = ("ci-bot", "数据分析", "intern")


def gitops_repo(workdir, names=THREE, *, state_path: str | None = "../state/reconciler.json"):
    """``repo/accounts/``: a provider file (declaring the state) and one file per team."""
    repo = workdir.path / "repo"
    state = f"state:\n  path: {state_path}\n" if state_path else ""
    workdir.write(
        "repo/accounts/providers.yaml",
        f"version: 1\n{state}minimax:\n  cn-main:\n"
        f'    group_id: "{GROUP}"\n    api_key_env: MINIMAX_API_KEY\n'
        f"    base_url: {workdir.sandbox.url}\n",
    )
    team_files(workdir, names)
    return repo


def team_files(workdir, names) -> None:
    for index, name in enumerate(names):
        workdir.write(
            f"repo/accounts/team-{index}.yaml",
            f"version: 1\nminimax:\n  cn-main:\n    sub_accounts:\n      - name: {name}\n",
        )


def address(name: str) -> str:
    return f"minimax.cn-main.sub_account[{json.dumps(name, ensure_ascii=False)}]"


def changing_requests(workdir) -> list[dict]:
    """Provider calls that change something (the refresh's bills reads change nothing)."""
    return [r for r in workdir.sandbox.requests if r["method"] != "GET"]


# -- 1. self-contained saved plans --


def test_a_saved_plan_applies_with_no_c_exactly_as_planned(workdir):
    repo = gitops_repo(workdir)

    planned = run_at(workdir, repo, "plan", "-c", "accounts", "--out", "p.plan")
    assert planned.code == 0, planned.output
    assert "apply it with `reconciler apply p.plan`" in planned.stderr
    applied = run_at(workdir, repo, "apply", "p.plan")

    assert applied.code == 0, applied.output
    assert set(workdir.accounts()) == set(THREE)
    assert "Applying the saved plan p.plan. Plan: 3 to create" in applied.stdout
    assert "will be created" not in applied.stdout  # the reviewed plan is not printed again
    assert "Apply complete: 3 succeeded, 0 failed, 0 skipped." in applied.stdout
    assert (repo / "state" / "reconciler.json").is_file()


def test_a_saved_plan_made_and_applied_from_another_directory_uses_the_same_state(workdir):
    repo = gitops_repo(workdir)
    elsewhere = workdir.path / "elsewhere"
    elsewhere.mkdir()
    accounts = str(repo / "accounts")

    assert run_at(workdir, elsewhere, "plan", "-c", accounts, "--out", "p.plan").code == 0
    applied = run_at(workdir, elsewhere, "apply", "p.plan")

    assert applied.code == 0, applied.output
    assert (repo / "state" / "reconciler.json").is_file()
    assert sorted(p.name for p in elsewhere.iterdir()) == ["p.plan"]
    again = run_at(workdir, repo, "plan", "-c", "accounts", "--detailed-exitcode")
    assert again.code == 0, again.output


def test_a_plan_saved_in_the_repo_applies_from_another_directory(workdir):
    repo = gitops_repo(workdir, state_path=None)  # the default state: where plan ran
    assert run_at(workdir, repo, "plan", "-c", "accounts", "--out", "plans/p.plan").code == 0

    applied = run_at(workdir, workdir.path, "apply", "repo/plans/p.plan")

    assert applied.code == 0, applied.output
    assert (repo / "state" / "reconciler.json").is_file()
    assert not (workdir.path / "state").exists()


def test_a_config_file_changed_after_the_plan_is_named_and_nothing_is_called(workdir):
    repo = gitops_repo(workdir)
    assert run_at(workdir, repo, "plan", "-c", "accounts", "--out", "p.plan").code == 0
    calls = len(workdir.sandbox.requests)
    team = repo / "accounts" / "team-1.yaml"
    team.write_text(team.read_text(encoding="utf-8") + "        status: disabled\n", "utf-8")

    stale = run_at(workdir, repo, "apply", "p.plan")

    assert stale.code == 1
    assert "the saved plan p.plan is stale" in stale.stderr
    assert "accounts/team-1.yaml was edited" in stale.stderr
    assert "team-0.yaml" not in stale.stderr
    assert len(workdir.sandbox.requests) == calls
    assert workdir.accounts() == {}


def test_applying_a_saved_plan_with_another_config_names_the_files_that_differ(workdir):
    repo = gitops_repo(workdir)
    assert run_at(workdir, repo, "plan", "-c", "accounts", "--out", "p.plan").code == 0
    workdir.write("repo/other/providers.yaml", (repo / "accounts/providers.yaml").read_text())

    refused = run_at(workdir, repo, "apply", "p.plan", "-c", "other")

    assert refused.code == 1
    assert "accounts/team-0.yaml is not read now" in refused.stderr
    assert "other/providers.yaml was not read by the plan" in refused.stderr


def test_a_saved_plan_whose_config_files_are_gone_says_where_to_run_it(workdir):
    repo = gitops_repo(workdir)
    assert run_at(workdir, repo, "plan", "-c", "accounts", "--out", "p.plan").code == 0
    moved = workdir.path / "p.plan"
    (repo / "p.plan").rename(moved)

    refused = run_at(workdir, workdir.path, "apply", "p.plan")

    assert refused.code == 1
    assert "config files the saved plan p.plan was made from are not found" in refused.stderr
    assert "accounts/providers.yaml" in refused.stderr and "pass -c PATH" in refused.stderr


def test_the_saved_plan_records_its_files_as_its_schema_says(workdir):
    repo = gitops_repo(workdir)
    assert run_at(workdir, repo, "plan", "-c", "accounts", "--out", "plans/p.plan").code == 0

    document = json.loads((repo / "plans" / "p.plan").read_text(encoding="utf-8"))

    jsonschema.validate(document, load_schema("plan"))
    assert [f["path"] for f in document["config_files"]] == [
        "accounts/providers.yaml",
        "accounts/team-0.yaml",
        "accounts/team-1.yaml",
        "accounts/team-2.yaml",
    ]
    assert document["working_directory"] == ".."


# -- 2. state found where the config says --


def test_a_plan_from_another_directory_reads_the_state_beside_the_config(workdir):
    repo = gitops_repo(workdir)
    assert run_at(workdir, repo, "apply", "-c", "accounts", "--auto-approve").code == 0
    elsewhere = workdir.path / "elsewhere"
    elsewhere.mkdir()

    planned = run_at(workdir, elsewhere, "plan", "-c", str(repo / "accounts"))

    assert planned.code == 0, planned.output
    assert "No changes." in planned.stdout
    assert list(elsewhere.iterdir()) == []


def test_a_missing_state_file_is_warned_about_with_its_path_and_plan_creates_no_file(workdir):
    repo = gitops_repo(workdir, state_path=None)
    elsewhere = workdir.path / "elsewhere"
    elsewhere.mkdir()

    planned = run_at(workdir, elsewhere, "plan", "-c", str(repo / "accounts"))

    assert planned.code == 0, planned.output
    expected = f"no state file at {elsewhere / 'state' / 'reconciler.json'}"
    assert f"Warning: {expected}: this plan assumes nothing exists yet (3 to create)" in (
        planned.stdout
    )
    assert list(elsewhere.iterdir()) == []
    markdown = run_at(workdir, elsewhere, "plan", "-c", str(repo / "accounts"), "--format", "json")
    assert any(expected in w for w in json.loads(markdown.stdout)["warnings"])


# -- 3. strict targeting --


def test_a_mistyped_target_exits_1_suggesting_the_address_and_calls_nothing(workdir):
    repo = gitops_repo(workdir)
    typo = ["--target", 'minimax.cn-main.sub_account["ci-bto"]']

    for command in (["plan"], ["plan", "--no-refresh"], ["apply", "--auto-approve"]):
        result = run_at(workdir, repo, *command, "-c", "accounts", *typo)
        assert result.code == 1, result.output
        assert "names nothing in the config or the state" in result.stderr
        assert f"Did you mean: {address('ci-bot')}" in result.stderr
    assert workdir.sandbox.requests == []


def test_a_target_whose_quotes_the_shell_ate_is_refused_with_the_quoted_form(workdir):
    repo = gitops_repo(workdir)

    result = run_at(
        workdir, repo, "plan", "-c", "accounts", "--target", "minimax.cn-main.sub_account[ci-bot]"
    )

    assert result.code == 1
    assert f"Did you mean {address('ci-bot')}? Quote the whole address" in result.stderr


# -- 4. the blast-radius guard --

EIGHT = tuple(f"bot-{n}" for n in range(8))


def test_deleting_3_of_8_is_unsafe_and_apply_needs_force(workdir):
    repo = gitops_repo(workdir, EIGHT)
    assert run_at(workdir, repo, "apply", "-c", "accounts", "--auto-approve").code == 0
    for index in (0, 1, 2):
        (repo / "accounts" / f"team-{index}.yaml").unlink()

    planned = run_at(workdir, repo, "plan", "-c", "accounts")
    as_json = json.loads(run_at(workdir, repo, "plan", "-c", "accounts", "--format", "json").stdout)
    markdown = run_at(workdir, repo, "plan", "-c", "accounts", "--format", "markdown").stdout
    calls = len(changing_requests(workdir))
    refused = run_at(workdir, repo, "apply", "-c", "accounts", "--auto-approve")
    calls_after_refusal = len(changing_requests(workdir))
    forced = run_at(workdir, repo, "apply", "-c", "accounts", "--auto-approve", "--force")

    reason = (
        "minimax.cn-main: this plan deletes or disables 3 of its 8 managed sub-accounts (37.5%), "
        "more than safety.max_delete_percent (25%)"
    )
    assert "Unsafe: apply refuses this plan unless --force is given:" in planned.stdout
    assert reason in planned.stdout
    assert as_json["unsafe"] == [reason]
    assert "**Unsafe: `apply` refuses this plan unless `--force` is given.**" in markdown
    assert refused.code == 1
    assert "this plan is unsafe" in refused.stderr and "--force" in refused.stderr
    assert calls_after_refusal == calls
    assert forced.code == 0, forced.output
    assert set(workdir.accounts()) == set(EIGHT[3:])


def test_an_unsafe_plan_is_refused_before_any_provider_call(workdir):
    repo = gitops_repo(workdir, EIGHT)
    assert run_at(workdir, repo, "apply", "-c", "accounts", "--auto-approve").code == 0
    for index in (0, 1, 2):
        (repo / "accounts" / f"team-{index}.yaml").unlink()
    calls = len(workdir.sandbox.requests)

    refused = run_at(workdir, repo, "apply", "-c", "accounts", "--auto-approve")

    assert refused.code == 1
    assert len(workdir.sandbox.requests) == calls  # not even the refresh's read


def test_a_saved_unsafe_plan_is_refused_without_force_even_if_the_file_says_safe(workdir):
    repo = gitops_repo(workdir, EIGHT)
    assert run_at(workdir, repo, "apply", "-c", "accounts", "--auto-approve").code == 0
    for index in (0, 1, 2, 3):
        (repo / "accounts" / f"team-{index}.yaml").unlink()
    assert run_at(workdir, repo, "plan", "-c", "accounts", "--out", "p.plan").code == 0
    saved = json.loads((repo / "p.plan").read_text(encoding="utf-8"))
    saved["unsafe"] = []
    (repo / "p.plan").write_text(json.dumps(saved), encoding="utf-8")

    refused = run_at(workdir, repo, "apply", "p.plan")
    forced = run_at(workdir, repo, "apply", "p.plan", "--force")

    assert refused.code == 1 and "4 of its 8 managed sub-accounts (50%)" in refused.stderr
    assert forced.code == 0, forced.output
    assert len(workdir.accounts()) == 4


def test_disabling_counts_and_the_threshold_is_set_per_config(workdir):
    repo = gitops_repo(workdir, EIGHT)
    assert run_at(workdir, repo, "apply", "-c", "accounts", "--auto-approve").code == 0
    for index in (0, 1):
        team = repo / "accounts" / f"team-{index}.yaml"
        team.write_text(team.read_text() + "        status: disabled\n", encoding="utf-8")
    (repo / "accounts" / "team-2.yaml").unlink()

    default = run_at(workdir, repo, "plan", "-c", "accounts", "--no-refresh", "--format", "json")
    workdir.write("repo/accounts/safety.yaml", "version: 1\nsafety:\n  max_delete_percent: 50\n")
    relaxed = run_at(workdir, repo, "plan", "-c", "accounts", "--no-refresh", "--format", "json")

    assert json.loads(default.stdout)["unsafe"][0].startswith(
        "minimax.cn-main: this plan deletes or disables 3 of its 8"
    )
    assert json.loads(relaxed.stdout)["unsafe"] == []


def test_a_small_group_is_never_unsafe(workdir):
    repo = gitops_repo(workdir, ("a", "b", "c"))
    assert run_at(workdir, repo, "apply", "-c", "accounts", "--auto-approve").code == 0
    for index in (0, 1, 2):
        (repo / "accounts" / f"team-{index}.yaml").unlink()

    applied = run_at(workdir, repo, "apply", "-c", "accounts", "--auto-approve")

    assert applied.code == 0, applied.output
    assert workdir.accounts() == {}


# -- 5. plans that tell the truth early --


def test_plan_no_refresh_needs_no_provider_credential(workdir):
    repo = gitops_repo(workdir)
    no_keys = {"MINIMAX_API_KEY": None, "XAI_MANAGEMENT_KEY": None}

    refreshed = run_at(workdir, repo, "plan", "-c", "accounts", env=no_keys)
    offline = run_at(workdir, repo, "plan", "-c", "accounts", "--no-refresh", env=no_keys)

    assert refreshed.code == 1 and "MINIMAX_API_KEY" in refreshed.stderr
    assert offline.code == 0, offline.output
    assert "Plan: 3 to create" in offline.stdout
    assert workdir.sandbox.requests == []


def test_a_plan_that_creates_tokens_warns_when_apply_would_have_nowhere_to_keep_them(workdir):
    repo = gitops_repo(workdir)

    planned = run_at(workdir, repo, "plan", "-c", "accounts", env={"RECONCILER_SECRET_KEY": None})
    markdown = run_at(
        workdir,
        repo,
        "plan",
        "-c",
        "accounts",
        "--format",
        "markdown",
        env={"RECONCILER_SECRET_KEY": None},
    )

    warning = (
        "3 change(s) in this plan receive passwords or tokens, but RECONCILER_SECRET_KEY is "
        "unset and no secrets.command is configured: apply will refuse them"
    )
    assert planned.code == 0
    assert warning in planned.stdout
    assert "RECONCILER\\_SECRET\\_KEY is unset" in markdown.stdout


def test_a_plan_with_a_key_that_does_not_open_the_store_warns(workdir):
    repo = gitops_repo(workdir)
    assert run_at(workdir, repo, "apply", "-c", "accounts", "--auto-approve").code == 0
    from reconciler.secrets import generate_key

    planned = run_at(
        workdir, repo, "plan", "-c", "accounts", env={"RECONCILER_SECRET_KEY": generate_key()}
    )

    assert planned.code == 0
    assert "apply will refuse to run" in planned.stdout
    assert "RECONCILER_SECRET_KEY is not the key" in planned.stdout


# -- --lock-timeout --

HOLD = textwrap.dedent(
    """
    import sys, time
    from reconciler.state import LocalBackend
    with LocalBackend(sys.argv[1]).lock("apply"):
        print("held", flush=True)
        time.sleep(float(sys.argv[2]))
    """
)


def test_lock_timeout_waits_for_a_held_lock_and_without_it_plan_fails_at_once(workdir):
    repo = gitops_repo(workdir)
    assert run_at(workdir, repo, "apply", "-c", "accounts", "--auto-approve").code == 0
    state = str(repo / "state" / "reconciler.json")
    root = Path(__file__).resolve().parent.parent
    with subprocess.Popen(
        [sys.executable, "-c", HOLD, state, "2"], cwd=root, stdout=subprocess.PIPE, text=True
    ) as holder:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        at_once = run_at(workdir, repo, "plan", "-c", "accounts")
        started = time.monotonic()
        waited = run_at(workdir, repo, "plan", "-c", "accounts", "--lock-timeout", "30s")
        took = time.monotonic() - started
        holder.wait(timeout=30)

    assert at_once.code == 1 and "is locked by" in at_once.stderr
    assert "--lock-timeout" not in at_once.stderr or "force-unlock" in at_once.stderr
    assert waited.code == 0, waited.output
    assert took > 0.5
    assert "No changes." in waited.stdout


def test_a_bad_lock_timeout_is_a_usage_error_exit_1(workdir):
    repo = gitops_repo(workdir)

    result = run_at(workdir, repo, "plan", "-c", "accounts", "--lock-timeout", "soon")

    assert result.code == 1
    assert "'soon' is not a duration like 30s, 5m or 1m30s" in result.stderr


def test_plan_on_a_fresh_checkout_leaves_no_lock_file_behind(workdir):
    repo = gitops_repo(workdir)
    before = sorted(p.relative_to(repo) for p in repo.rglob("*"))

    assert run_at(workdir, repo, "plan", "-c", "accounts").code == 0

    assert sorted(p.relative_to(repo) for p in repo.rglob("*")) == before
    assert not os.path.exists(repo / "state")
