"""Paths in and around the config: ``state.path`` names a file, and a config directory's
subdirectories are not read without saying so.

``state.path: "st/"`` once became a file ``st``, and ``"~/x.json"`` a directory named ``~``;
YAML files under ``reconciler/teams/`` were ignored without a word. Each is now refused or
told, at the config's ``file:line`` or as a warning from ``validate`` and ``plan``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.config import load_config
from reconciler.errors import ConfigError

Workdir = Any  # tests/conftest.py


def _config(tmp_path: Path, state_path: str) -> str:
    target = tmp_path / "reconciler.yaml"
    target.write_text(f'version: 1\nstate:\n  path: "{state_path}"\n', encoding="utf-8")
    return str(target)


@pytest.mark.parametrize("path", ["st/", "state/nested/", ".", "..", "st/.", "/"])
def test_a_state_path_naming_a_directory_is_refused_at_its_line(tmp_path: Path, path: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config([_config(tmp_path, path)], {})

    (issue,) = raised.value.issues
    assert (issue.line, issue.path) == (3, "state.path")
    assert issue.message.startswith(f"'{path}' names a directory; state.path names the state file")


@pytest.mark.parametrize(("path", "expected"), [("~/x.json", "x.json"), ("~/a/b.json", "a/b.json")])
def test_a_state_path_under_tilde_is_in_the_home_directory(
    tmp_path: Path, path: str, expected: str
) -> None:
    home = tmp_path / "home"

    desired = load_config([_config(tmp_path, path)], {"HOME": str(home)})

    assert desired.state.path == str(home / expected)


def test_a_state_path_under_the_home_of_an_unknown_user_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config([_config(tmp_path, "~no-such-user-here/x.json")], {})

    (issue,) = raised.value.issues
    assert (issue.line, issue.path) == (3, "state.path")
    assert "starts with ~, but the home directory it names is not known here" in issue.message


def test_a_tilde_inside_a_path_is_just_a_character(tmp_path: Path) -> None:
    desired = load_config([_config(tmp_path, "st/~x.json")], {"HOME": "/nowhere"})

    assert desired.state.path == str(tmp_path / "st" / "~x.json")


def test_apply_keeps_a_tilde_state_in_the_home_directory_not_in_a_directory_named_tilde(
    workdir: Workdir,
) -> None:
    home = workdir.path / "home"
    workdir.config("- name: a\n", extra='state:\n  path: "~/state/r.json"\n')

    applied = workdir.run("apply", "--auto-approve", env={"HOME": str(home)})

    assert applied.code == 0, applied.output
    assert (home / "state" / "r.json").is_file()
    assert not (workdir.path / "~").exists()


def test_validate_and_plan_name_the_yaml_files_a_config_directory_leaves_out(
    workdir: Workdir,
) -> None:
    (workdir.path / "accounts").mkdir()
    workdir.config("- name: a\n", name="accounts/main.yaml")
    workdir.write("accounts/teams/x.yaml", "version: 1\n")

    validated = workdir.run("validate", "-c", "accounts/")
    planned = workdir.run("plan", "-c", "accounts/")

    left_out = "accounts/teams/x.yaml: not read, being in a subdirectory of a config directory"
    assert validated.code == 0, validated.output
    assert f"Warning: {left_out}" in validated.stderr
    assert planned.code == 0, planned.output
    assert left_out in planned.stdout
    both = workdir.run("validate", "-c", "accounts/", "-c", "accounts/teams")
    assert both.code == 0 and "Warning" not in both.output
