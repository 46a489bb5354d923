"""Config discovery and shell completion, end to end: what a user types without -c."""

from __future__ import annotations

import pytest
from cli_runner import run_at
from conftest import GROUP

PROVIDER = """\
version: 1
minimax:
  cn-main:
    group_id: "{group}"
    api_key_env: MINIMAX_API_KEY
    base_url: {url}
    sub_accounts:
      - name: {name}
"""


def provider(workdir, name: str = "ci-bot") -> str:
    return PROVIDER.format(group=GROUP, url=workdir.sandbox.url, name=name)


@pytest.mark.parametrize("where", ["reconciler.yaml", "reconciler.yml", "reconciler/main.yaml"])
def test_the_default_config_is_found_under_each_of_its_names(workdir, where):
    workdir.write(where, provider(workdir))

    result = run_at(workdir, workdir.path, "validate")

    assert result.code == 0, result.output
    assert "1 sub-account(s)" in result.stderr


def test_reconciler_config_names_the_config_to_read(workdir):
    workdir.write("infra/accounts.yaml", provider(workdir))

    planned = workdir.run("plan", "--no-refresh", env={"RECONCILER_CONFIG": "infra/accounts.yaml"})
    missing = workdir.run("plan", env={"RECONCILER_CONFIG": "nowhere.yaml"})

    assert planned.code == 0, planned.output
    assert "Plan: 1 to create" in planned.stdout
    assert missing.code == 1
    assert "nowhere.yaml: no such file or directory (named by RECONCILER_CONFIG)" in missing.stderr


def test_c_wins_over_reconciler_config(workdir):
    workdir.write("a.yaml", provider(workdir, "from-c"))
    workdir.write("b.yaml", provider(workdir, "from-env"))

    planned = workdir.run(
        "plan", "--no-refresh", "-c", "a.yaml", env={"RECONCILER_CONFIG": "b.yaml"}
    )

    assert '"from-c"' in planned.stdout and "from-env" not in planned.stdout


def test_two_default_configs_at_once_are_refused_rather_than_half_read(workdir):
    workdir.write("reconciler.yaml", provider(workdir))
    workdir.write("reconciler/team.yaml", provider(workdir, "other"))

    result = run_at(workdir, workdir.path, "plan")

    assert result.code == 1
    assert "found reconciler.yaml and reconciler/; pass -c PATH to say which" in result.stderr


def test_a_reconciler_directory_without_yaml_is_not_a_config(workdir):
    (workdir.path / "reconciler").mkdir()
    (workdir.path / "reconciler" / "__init__.py").write_text("")

    result = run_at(workdir, workdir.path, "validate")

    assert result.code == 1
    assert "no config found here (tried RECONCILER_CONFIG (unset)" in result.stderr


def test_state_commands_find_the_discovered_config_and_its_state(workdir):
    workdir.write(
        "reconciler/main.yaml", "state:\n  path: ../records/state.json\n" + provider(workdir)
    )
    assert run_at(workdir, workdir.path, "apply", "--auto-approve").code == 0

    listed = run_at(workdir, workdir.path, "state", "list")

    assert (workdir.path / "records" / "state.json").is_file()
    assert listed.stdout == 'minimax.cn-main.sub_account["ci-bot"]\n'


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_shell_completion_scripts_come_from_the_command_itself(workdir, shell):
    result = workdir.run(env={"_RECONCILER_COMPLETE": f"{shell}_source"})

    assert result.code == 0, result.output
    assert "_RECONCILER_COMPLETE" in result.stdout


def test_completion_offers_commands_and_options(workdir):
    env = {
        "_RECONCILER_COMPLETE": "bash_complete",
        "COMP_WORDS": "reconciler pl",
        "COMP_CWORD": "1",
    }
    commands = workdir.run(env=env)
    env = {
        "_RECONCILER_COMPLETE": "bash_complete",
        "COMP_WORDS": "reconciler plan --lock",
        "COMP_CWORD": "2",
    }
    options = workdir.run(env=env)

    assert "plain,plan" in commands.stdout.replace("\n", ",")
    assert "--lock-timeout" in options.stdout
