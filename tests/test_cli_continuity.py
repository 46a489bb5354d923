"""End to end: a state keeps its secrets store and its owner, or says what would be lost.

A CI job that restores only the state, another state's store copied in its place, and two
config directories pointed at one state each used to plan as if nothing were wrong: the
tokens read as "never kept", the other team's accounts as "to delete".
"""

from __future__ import annotations

import json
import shutil
import textwrap

import pytest
from conftest import BACKENDS

from reconciler.sandbox import SANDBOX_MINIMAX_API_KEY, SANDBOX_MINIMAX_GROUP_ID

A = 'minimax.cn-main.sub_account["a"]'
B = 'minimax.cn-main.sub_account["b"]'


def _mutating(workdir) -> int:
    return sum(r["method"] != "GET" for r in workdir.sandbox.requests)


def _header(workdir, name: str = "state/reconciler.json") -> dict:
    text = (workdir.path / name).read_text(encoding="utf-8")
    return {k: v for k, v in json.loads(text).items() if k != "resources"}


def test_a_missing_secrets_store_is_refused_naming_the_tokens_that_would_be_lost(
    workdir, tmp_path_factory
):
    workdir.config("- name: a\n- name: b\n")
    assert workdir.run("apply", "--auto-approve").code == 0
    store = workdir.path / "state" / "reconciler.secrets.json"
    kept = tmp_path_factory.mktemp("elsewhere") / "store.json"
    shutil.move(store, kept)  # a CI job that restored only the state
    workdir.config("- name: a\n- name: b\n- name: c\n")
    before = _mutating(workdir)

    for command in (["plan"], ["apply", "--auto-approve"]):
        refused = workdir.run(*command)
        assert refused.code == 1, refused.output
        assert "the secrets store state/reconciler.secrets.json is missing" in refused.stderr
        assert f"the tokens and passwords of 2 account(s) would be lost: {A}, {B}" in refused.stderr
        assert "--accept-lost-secrets" in refused.stderr and "Nothing was changed" in refused.stderr
    shown = workdir.run("secrets", "show", A)
    assert shown.code == 1 and "secrets.json is missing" in shown.stderr
    assert _mutating(workdir) == before
    assert not store.exists()

    shutil.move(kept, store)  # restored: all is well again
    assert workdir.run("plan").code == 0
    assert workdir.run("secrets", "show", A).stdout.strip() == workdir.accounts()["a"]["token"]


def test_a_lost_store_accepted_knowingly_starts_a_new_one(workdir):
    workdir.config("- name: a\n")
    assert workdir.run("apply", "--auto-approve").code == 0
    (workdir.path / "state" / "reconciler.secrets.json").unlink()
    workdir.config("- name: a\n- name: b\n")

    planned = workdir.run("plan", "--accept-lost-secrets")
    assert planned.code == 0, planned.output
    assert "(accepted with --accept-lost-secrets" in planned.stdout
    applied = workdir.run("apply", "--auto-approve", "--accept-lost-secrets")
    assert applied.code == 0, applied.output

    assert workdir.run("plan", "--detailed-exitcode").code == 0  # the new store is this state's
    assert workdir.run("secrets", "show", B).stdout.strip() == workdir.accounts()["b"]["token"]


def _lose_store(workdir) -> None:
    """The secrets store gone, the state kept: a CI job restoring only the state."""
    if workdir.pg is None:
        (workdir.path / "state" / "reconciler.secrets.json").unlink()
        return
    schema = workdir.pg.schema
    workdir.pg.query(f"DELETE FROM {schema}.state_documents WHERE document = 'secrets'")


@pytest.mark.parametrize("workdir", BACKENDS, indirect=True)
def test_a_lost_store_accepted_by_an_apply_with_nothing_to_change_is_not_refused_again(workdir):
    workdir.config("- name: a\n")
    assert workdir.run("apply", "--auto-approve").code == 0
    _lose_store(workdir)
    refused = workdir.run("plan")
    assert refused.code == 1
    assert "the secrets store " in refused.stderr and " is missing" in refused.stderr
    assert "secrets store at the" not in refused.stderr
    assert "secrets store the secrets store" not in refused.stderr

    accepted = workdir.run("apply", "--auto-approve", "--accept-lost-secrets")
    assert accepted.code == 0, accepted.output
    assert "No changes" in accepted.stdout

    assert workdir.run("plan", "--detailed-exitcode").code == 0  # accepted once, for good
    workdir.config("- name: a\n- name: b\n")
    added = workdir.run("apply", "--auto-approve")
    assert added.code == 0, added.output
    assert workdir.run("secrets", "show", B).stdout.strip() == workdir.accounts()["b"]["token"]


def test_another_states_store_in_its_place_is_refused(workdir):
    other = workdir.path / "other"
    other.mkdir()
    own_state = "state:\n  path: state/reconciler.json"  # other/state/, beside its config
    workdir.config("- name: x\n", name="other/reconciler.yaml", extra=own_state)
    assert workdir.run("apply", "--auto-approve", "-c", "other").code == 0
    workdir.config("- name: a\n")
    assert workdir.run("apply", "--auto-approve").code == 0
    shutil.copy(other / "state" / "reconciler.secrets.json", workdir.path / "state")

    refused = workdir.run("plan")

    assert refused.code == 1, refused.output
    assert "belongs to another state" in refused.stderr
    assert f"would be lost: {A}" in refused.stderr


@pytest.mark.parametrize("workdir", BACKENDS, indirect=True)
def test_secrets_show_never_serves_a_token_from_another_states_store(workdir):
    x = 'minimax.cn-main.sub_account["x"]'
    elsewhere = workdir.another_state("other")
    other = workdir.config("- name: x\n", name="other.yaml", extra=elsewhere)
    assert workdir.run("apply", "--auto-approve", "-c", str(other)).code == 0
    theirs = json.loads(workdir.run("state", "pull", "-c", str(other)).stdout)
    old_token = workdir.accounts()["x"]["token"]
    workdir.config("[]", name="other.yaml", extra=elsewhere)
    deleted = workdir.run("apply", "--auto-approve", "--force", "-c", str(other))
    assert deleted.code == 0, deleted.output
    workdir.config("- name: x\n")
    assert workdir.run("apply", "--auto-approve").code == 0  # a new account named x
    mixed = json.loads(workdir.run("state", "pull").stdout)
    mixed["secrets"] = theirs["secrets"]  # the other state's store restored in its place
    (workdir.path / "mixed.json").write_text(json.dumps(mixed))
    assert workdir.run("state", "push", "mixed.json", "--force").code == 0

    shown = workdir.run("secrets", "show", x)

    assert shown.code == 1, shown.output
    assert old_token not in shown.output
    assert "belongs to another state" in shown.stderr


def test_the_state_records_its_owner_and_that_secrets_exist(workdir):
    workdir.config("- name: a\n")
    assert workdir.run("apply", "--auto-approve").code == 0

    header = _header(workdir)
    store = json.loads((workdir.path / "state" / "reconciler.secrets.json").read_text())
    assert header["workspace"] == ".."  # reconciler.yaml, from state/
    assert header["secrets_key_check"] == store["key_check"]
    assert store["lineage"] == header["lineage"]


def _team(workdir, team: str, names: list[str]) -> None:
    accounts = "".join(f"      - name: {name}\n" for name in names)
    text = textwrap.dedent(
        f"""\
        version: 1
        state:
          path: ../shared/reconciler.json
        minimax:
          cn-main:
            group_id: "{SANDBOX_MINIMAX_GROUP_ID}"
            api_key_env: MINIMAX_API_KEY
            base_url: {workdir.sandbox.url}
            sub_accounts:
        """
    )
    (workdir.path / team).mkdir(exist_ok=True)
    (workdir.path / team / "reconciler.yaml").write_text(text + accounts, encoding="utf-8")


def test_two_config_directories_sharing_one_state_never_delete_each_others_accounts(workdir):
    _team(workdir, "team-a", ["a1", "a2"])
    _team(workdir, "team-b", ["b1"])
    assert workdir.run("apply", "--auto-approve", "-c", "team-a").code == 0
    before = _mutating(workdir)

    for command in (["plan"], ["apply", "--auto-approve"]):
        refused = workdir.run(*command, "-c", "team-b")
        assert refused.code == 1, refused.output
        assert "is applied by another config: the config at ../team-a" in refused.stderr
        assert "this config is at ../team-b" in refused.stderr
        assert "2 of its resources, which this config would delete" in refused.stderr
        assert 'sub_account["a1"], minimax.cn-main.sub_account["a2"]' in refused.stderr
        assert "its own state.path" in refused.stderr and "--adopt-state" in refused.stderr
    assert _mutating(workdir) == before
    assert set(workdir.accounts()) == {"a1", "a2"}
    assert workdir.run("plan", "--detailed-exitcode", "-c", "team-a").code == 0


def test_a_moved_config_keeps_its_state_and_adopting_one_is_said_out_loud(workdir):
    _team(workdir, "team-a", ["a1"])
    assert workdir.run("apply", "--auto-approve", "-c", "team-a").code == 0
    (workdir.path / "team-a").rename(workdir.path / "accounts")  # same accounts, new place

    moved = workdir.run("plan", "-c", "accounts")
    assert moved.code == 0, moved.output
    assert "was last applied by the config at ../team-a" in moved.stdout

    _team(workdir, "accounts", ["a2"])  # and now it drops a1: a takeover, said out loud
    refused = workdir.run("plan", "-c", "accounts")
    assert refused.code == 1 and "--adopt-state" in refused.stderr
    adopted = workdir.run("apply", "--auto-approve", "--adopt-state", "-c", "accounts")
    assert adopted.code == 0, adopted.output
    assert set(workdir.accounts()) == {"a2"}
    assert _header(workdir, "shared/reconciler.json")["workspace"] == "../accounts"
    assert workdir.run("plan", "--detailed-exitcode", "-c", "accounts").code == 0


def test_an_apply_with_nothing_to_change_records_a_moved_config_as_the_owner(workdir):
    _team(workdir, "team-a", ["a1"])
    assert workdir.run("apply", "--auto-approve", "-c", "team-a").code == 0
    (workdir.path / "team-a").rename(workdir.path / "accounts")

    settled = workdir.run("apply", "--auto-approve", "-c", "accounts")
    assert settled.code == 0 and "No changes" in settled.stdout
    assert "was last applied by" in settled.stdout

    again = workdir.run("plan", "--detailed-exitcode", "-c", "accounts")
    assert again.code == 0 and "was last applied by" not in again.stdout
    assert _header(workdir, "shared/reconciler.json")["workspace"] == "../accounts"


def test_a_state_linked_from_two_checkouts_has_one_owner_wherever_each_checkout_is(workdir):
    shared = workdir.path / "shared"
    shared.mkdir()
    for checkout in ("alice/repo", "bob/work/repo"):  # two machines, two paths
        (workdir.path / checkout / "state").mkdir(parents=True)
        beside = "state:\n  path: state/reconciler.json"
        workdir.config("- name: a\n", name=f"{checkout}/reconciler.yaml", extra=beside)
        for name in ("reconciler.json", "reconciler.secrets.json"):
            (workdir.path / checkout / "state" / name).symlink_to(shared / name)
    assert workdir.run("apply", "--auto-approve", "-c", "alice/repo").code == 0

    planned = workdir.run("plan", "--detailed-exitcode", "-c", "bob/work/repo")

    assert planned.code == 0, planned.output
    assert "was last applied by" not in planned.stdout
    assert json.loads((shared / "reconciler.json").read_text())["workspace"] == ".."


def test_a_state_written_before_owners_and_marks_is_adopted_by_its_next_apply(workdir):
    workdir.config("- name: a\n")
    assert workdir.run("apply", "--auto-approve").code == 0
    state_file = workdir.path / "state" / "reconciler.json"
    old = json.loads(state_file.read_text(encoding="utf-8"))
    del old["workspace"], old["secrets_key_check"]
    state_file.write_text(json.dumps(old), encoding="utf-8")
    workdir.config("- name: a\n- name: b\n")

    assert workdir.run("plan").code == 0
    assert workdir.run("apply", "--auto-approve").code == 0
    assert {"workspace", "secrets_key_check"} <= set(_header(workdir))
    assert SANDBOX_MINIMAX_API_KEY not in state_file.read_text(encoding="utf-8")
