"""End to end: `state pull` and `state push` move a state and its sealed secrets between
backends, exactly, and refuse what would lose work unless --force."""

from __future__ import annotations

import json
import os
import stat

import pytest
from conftest import BACKENDS

THREE = """
- name: ci-bot
- name: 数据分析
- name: intern
"""
CI_BOT = 'minimax.cn-main.sub_account["ci-bot"]'


@pytest.mark.parametrize("workdir", BACKENDS, indirect=True)
def test_pull_writes_state_and_sealed_secrets_and_push_then_pull_gives_them_back(workdir):
    workdir.config(THREE)
    assert workdir.run("apply", "--auto-approve").code == 0
    pulled = workdir.run("state", "pull", "backup.json")
    assert pulled.code == 0, pulled.output
    assert "Pulled serial" in pulled.stderr
    assert stat.S_IMODE(os.stat(workdir.path / "backup.json").st_mode) == 0o600
    document = json.loads((workdir.path / "backup.json").read_text())
    assert set(document) == {"reconciler_state", "state", "secrets"}
    assert len(document["state"]["resources"]) == 3
    assert set(document["secrets"]["secrets"]) == set(document["state"]["resources"])
    tokens = [account["token"] for account in workdir.accounts().values()]
    assert not any(token in (workdir.path / "backup.json").read_text() for token in tokens)
    assert (
        workdir.run("state", "pull").stdout.encode() == (workdir.path / "backup.json").read_bytes()
    )

    same = workdir.run("state", "push", "backup.json")
    assert same.code == 0 and "holds this state already" in same.stderr


@pytest.mark.parametrize("workdir", ["postgres"], indirect=True)
def test_a_team_moves_from_the_local_file_to_postgresql_and_back(workdir):
    local = workdir.config(
        THREE, extra="state:\n  path: state/reconciler.json\n", name="local.yaml"
    )
    assert workdir.run("apply", "--auto-approve", "-c", str(local)).code == 0
    assert workdir.run("state", "pull", "moved.json", "-c", str(local)).code == 0

    team = workdir.config(THREE, name="team.yaml")
    pushed = workdir.run("state", "push", "moved.json", "-c", str(team))
    assert pushed.code == 0, pushed.output
    assert (
        workdir.run("state", "pull", "-c", str(team)).stdout
        == (workdir.path / "moved.json").read_text()
    )
    assert workdir.run("plan", "--detailed-exitcode", "-c", str(team)).code == 0
    shown = workdir.run("secrets", "show", CI_BOT, "-c", str(team))
    assert shown.stdout.strip() == workdir.accounts()["ci-bot"]["token"]

    workdir.config(THREE + "- name: new-one\n", name="team.yaml")
    assert workdir.run("apply", "--auto-approve", "-c", str(team)).code == 0
    assert workdir.run("state", "pull", "back.json", "-c", str(team)).code == 0
    refused = workdir.run("state", "push", "moved.json", "-c", str(team))
    assert refused.code == 1
    assert "newer than the file's" in refused.stderr and "--force" in refused.stderr

    back = workdir.run("state", "push", "back.json", "-c", str(local))
    assert back.code == 0, back.output
    workdir.config(
        THREE + "- name: new-one\n",
        extra="state:\n  path: state/reconciler.json\n",
        name="local.yaml",
    )
    assert workdir.run("plan", "--detailed-exitcode", "-c", str(local)).code == 0
    assert len(workdir.accounts()) == 4


@pytest.mark.parametrize("workdir", BACKENDS, indirect=True)
def test_push_refuses_another_lineage_or_an_older_serial_unless_forced(workdir):
    workdir.config("- name: ci-bot\n")
    assert workdir.run("apply", "--auto-approve").code == 0
    assert workdir.run("state", "pull", "old.json").code == 0
    workdir.config("- name: ci-bot\n- name: later\n")
    assert workdir.run("apply", "--auto-approve").code == 0

    older = workdir.run("state", "push", "old.json")
    assert older.code == 1 and "Nothing was pushed" in older.stderr
    assert "later" in workdir.run("state", "list").stdout

    other = json.loads((workdir.path / "old.json").read_text())
    other["state"]["lineage"] = "00000000-0000-4000-8000-000000000000"
    (workdir.path / "other.json").write_text(json.dumps(other))
    refused = workdir.run("state", "push", "other.json")
    assert refused.code == 1 and "holds another state (lineage" in refused.stderr

    forced = workdir.run("state", "push", "old.json", "--force")
    assert forced.code == 0, forced.output
    assert "later" not in workdir.run("state", "list").stdout
    serial = json.loads(workdir.run("state", "pull").stdout)["state"]["serial"]
    assert serial > json.loads((workdir.path / "old.json").read_text())["state"]["serial"]


@pytest.mark.parametrize("workdir", BACKENDS, indirect=True)
def test_push_refuses_secrets_sealed_with_another_key_and_files_that_are_no_pulled_state(workdir):
    workdir.config("- name: ci-bot\n")
    assert workdir.run("apply", "--auto-approve").code == 0
    assert workdir.run("state", "pull", "mine.json").code == 0
    from reconciler.secrets import generate_key

    other_key = {"RECONCILER_SECRET_KEY": generate_key()}
    fresh = workdir.config(
        "- name: ci-bot\n", name="fresh.yaml", extra=workdir.another_state("fresh")
    )
    refused = workdir.run("state", "push", "mine.json", "-c", str(fresh), env=other_key)
    assert refused.code == 1 and "sealed with another key" in refused.stderr
    assert "than the one in RECONCILER_SECRET_KEY (key check " in refused.stderr

    (workdir.path / "junk.json").write_text('{"version": 1, "serial": 3}')
    junk = workdir.run("state", "push", "junk.json")
    assert junk.code == 1 and "not a document made by `reconciler state pull`" in junk.stderr
    broken = json.loads((workdir.path / "mine.json").read_text())
    broken["state"]["resources"][CI_BOT]["status"] = "sleeping"
    (workdir.path / "broken.json").write_text(json.dumps(broken))
    bad = workdir.run("state", "push", "broken.json")
    assert bad.code == 1 and "broken.json: state" in bad.stderr and "Traceback" not in bad.output

    mixed = json.loads((workdir.path / "mine.json").read_text())  # another state's secrets
    mixed["state"]["lineage"] = "0f0f0f0f-0000-4000-8000-000000000000"
    (workdir.path / "mixed.json").write_text(json.dumps(mixed))
    paired = workdir.run("state", "push", "mixed.json", "-c", str(fresh))
    assert paired.code == 1 and "sealed for another state" in paired.stderr, paired.output


@pytest.mark.parametrize("workdir", BACKENDS, indirect=True)
def test_pull_of_an_empty_backend_says_so_and_never_writes_over_the_state(workdir):
    workdir.config("- name: ci-bot\n")
    empty = workdir.run("state", "pull")
    assert empty.code == 1 and "nothing to pull" in empty.stderr
    if workdir.backend == "local":
        assert workdir.run("apply", "--auto-approve").code == 0
        over = workdir.run("state", "pull", "state/reconciler.json")
        assert over.code == 1 and "that reconciler keeps" in over.stderr


@pytest.mark.parametrize("workdir", BACKENDS, indirect=True)
def test_push_never_replaces_sealed_secrets_that_have_no_state_beside_them_unless_forced(workdir):
    workdir.config("- name: ci-bot\n")
    assert workdir.run("apply", "--auto-approve").code == 0
    mine = json.loads(workdir.run("state", "pull").stdout)
    mine["state"]["lineage"] = "00000000-0000-4000-8000-000000000000"
    mine["state"]["resources"] = {}
    mine["secrets"]["secrets"] = {}
    (workdir.path / "empty.json").write_text(json.dumps(mine))
    if workdir.pg is None:
        (workdir.path / "state" / "reconciler.json").unlink()
    else:
        schema = workdir.pg.schema
        workdir.pg.query(f"DELETE FROM {schema}.state_documents WHERE document = 'state'")

    refused = workdir.run("state", "push", "empty.json")
    assert refused.code == 1
    assert "holds no state but sealed secrets of 1 address(es)" in refused.stderr
    token = workdir.accounts()["ci-bot"]["token"]
    assert workdir.run("secrets", "show", CI_BOT).stdout.strip() == token
    assert workdir.run("state", "push", "empty.json", "--force").code == 0
    assert workdir.run("secrets", "show", CI_BOT).code == 1


@pytest.mark.parametrize("workdir", BACKENDS, indirect=True)
@pytest.mark.parametrize(
    ("part", "field", "value"),
    [("state", "lineage", "x\u0000y"), ("secrets", "key_check", "zz\u0000")],
)
def test_a_pushed_identity_that_reconciler_never_writes_is_refused_and_the_backend_stays_usable(
    workdir, part, field, value
):
    workdir.config("- name: ci-bot\n")
    assert workdir.run("apply", "--auto-approve").code == 0
    edited = json.loads(workdir.run("state", "pull").stdout)
    edited[part][field] = value
    (workdir.path / "edited.json").write_text(json.dumps(edited))

    refused = workdir.run("state", "push", "edited.json", "--force")

    assert refused.code == 1, refused.output
    assert f"edited.json: {part}" in refused.stderr and field.replace("_", " ") in refused.stderr
    assert "Traceback" not in refused.output
    workdir.config("- name: ci-bot\n- name: later\n")
    assert workdir.run("apply", "--auto-approve").code == 0
    assert workdir.run("state", "push", "edited.json", "--force").code == 1


@pytest.mark.parametrize("workdir", BACKENDS, indirect=True)
def test_pull_into_a_directory_names_that_directory(workdir):
    workdir.config("- name: ci-bot\n")
    assert workdir.run("apply", "--auto-approve").code == 0
    (workdir.path / "backups").mkdir()

    refused = workdir.run("state", "pull", "backups")

    assert refused.code == 1, refused.output
    assert "cannot write backups: Is a directory" in refused.stderr
    assert ".tmp" not in refused.stderr
    assert list((workdir.path / "backups").iterdir()) == []
