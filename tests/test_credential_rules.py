"""Where a credential may go: a config (a pull request) cannot send a key to another host.

CI runs ``plan`` on a pull request with the provider keys and the secrets store key in its
environment, before anyone reviews it. These tests check that the config cannot name the
store key as a provider's credential, cannot give one variable to two providers, and cannot
point a provider at a host other than its own or loopback; only the environment of the job
(``RECONCILER_ALLOWED_HOSTS``) can allow another host. ``validate`` says so too, offline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.config import load_config
from reconciler.credential_rules import PROVIDERS, allowed_hosts, host_of
from reconciler.errors import ConfigError, ConfigIssue
from reconciler.model import DEFAULT_MINIMAX_URL, DEFAULT_USEAPI_URL, DEFAULT_XAI_URL

Workdir = Any  # tests/conftest.py

SECTIONS = {
    "minimax": "minimax:\n  g:\n    group_id: '1'\n    api_key_env: {var}\n{url}",
    "xai": "xai:\n  t:\n    team_id: team\n    management_key_env: {var}\n{url}",
    "useapi": "useapi:\n  u:\n    token_env: {var}\n{url}",
}
KEY_FIELDS = {"minimax": "api_key_env", "xai": "management_key_env", "useapi": "token_env"}


def section(name: str, var: str, url: str | None = None) -> str:
    return SECTIONS[name].format(var=var, url=f"    base_url: {url}\n" if url else "")


def load_in(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> Any:
    target = tmp_path / "reconciler.yaml"
    target.write_text(text, encoding="utf-8")
    return load_config([str(target)], environ or {})


def issues_in(
    tmp_path: Path, text: str, environ: dict[str, str] | None = None
) -> list[ConfigIssue]:
    with pytest.raises(ConfigError) as raised:
        load_in(tmp_path, text, environ)
    return raised.value.issues


# -- the secrets store's key is never a provider's credential --


@pytest.mark.parametrize("name", list(SECTIONS))
def test_a_provider_may_not_be_sent_the_default_secrets_store_key(
    tmp_path: Path, name: str
) -> None:
    (issue,) = issues_in(tmp_path, "version: 1\n" + section(name, "RECONCILER_SECRET_KEY"))

    assert issue.line == (5 if name != "useapi" else 4)
    assert issue.path.endswith(KEY_FIELDS[name])
    assert "RECONCILER_SECRET_KEY is the secrets store's key variable" in issue.message
    assert "secrets.key_env, by default" in issue.message


def test_a_provider_may_not_be_sent_a_renamed_secrets_store_key(tmp_path: Path) -> None:
    text = "version: 1\nsecrets:\n  key_env: STORE_KEY\n" + section("minimax", "STORE_KEY")

    (issue,) = issues_in(tmp_path, text)

    assert (issue.line, issue.path) == (7, "minimax.g.api_key_env")
    assert f"secrets.key_env at {tmp_path / 'reconciler.yaml'}:3" in issue.message


def test_the_default_store_key_variable_is_fine_for_a_provider_once_the_store_uses_another(
    tmp_path: Path,
) -> None:
    text = "version: 1\nsecrets:\n  key_env: STORE_KEY\n" + section(
        "minimax", "RECONCILER_SECRET_KEY"
    )

    assert load_in(tmp_path, text).minimax["g"].api_key_env == "RECONCILER_SECRET_KEY"


def test_plan_with_the_store_key_as_a_credential_calls_no_provider(workdir: Workdir) -> None:
    path = workdir.config("- name: a\n")
    text = path.read_text().replace("MINIMAX_API_KEY", "RECONCILER_SECRET_KEY")
    path.write_text(text)

    for command in ("validate", "plan"):
        result = workdir.run(command)

        assert result.code == 1, result.output
        assert "reconciler.yaml:5: minimax.cn-main.api_key_env: RECONCILER_SECRET_KEY is" in (
            result.stderr
        )
        assert workdir.env["RECONCILER_SECRET_KEY"] not in result.output
    assert workdir.sandbox.requests == []


# -- one variable, one provider --


def test_one_variable_for_two_providers_is_refused_naming_both_places(tmp_path: Path) -> None:
    text = "version: 1\n" + section("minimax", "SHARED_KEY") + section("xai", "SHARED_KEY")

    (issue,) = issues_in(tmp_path, text)

    assert (issue.line, issue.path) == (9, "xai.t.management_key_env")
    assert issue.message.startswith(
        f"SHARED_KEY is also minimax.g.api_key_env at {tmp_path / 'reconciler.yaml'}:5: "
        "one variable cannot hold a key for both MiniMax and xAI"
    )


def test_two_sections_of_one_provider_may_share_a_variable(tmp_path: Path) -> None:
    text = (
        "version: 1\nminimax:\n"
        "  a:\n    group_id: '1'\n    api_key_env: MINIMAX_API_KEY\n"
        "  b:\n    group_id: '2'\n    api_key_env: MINIMAX_API_KEY\n"
    )

    assert set(load_in(tmp_path, text).minimax) == {"a", "b"}


# -- hosts: a provider's own, loopback, or what the job's environment allows --


@pytest.mark.parametrize(
    ("name", "url"),
    [
        *((p.section, f"https://{host}") for p in PROVIDERS for host in p.hosts),
        ("minimax", "https://API.MiniMax.chat./v1"),  # case and a final dot name the same host
        ("xai", "https://management-api.x.ai:443"),
        ("useapi", "http://127.0.0.1:8765"),
        ("useapi", "http://localhost"),
        ("xai", "https://[::1]:8443"),
    ],
)
def test_a_providers_own_hosts_and_loopback_are_accepted(
    tmp_path: Path, name: str, url: str
) -> None:
    load_in(tmp_path, "version: 1\n" + section(name, "SOME_KEY", url))


def test_every_default_url_is_on_its_providers_hosts() -> None:
    defaults = {
        "minimax": DEFAULT_MINIMAX_URL,
        "xai": DEFAULT_XAI_URL,
        "useapi": DEFAULT_USEAPI_URL,
    }
    for provider in PROVIDERS:
        assert host_of(defaults[provider.section]) in provider.hosts


@pytest.mark.parametrize(
    ("name", "url", "host"),
    [
        ("minimax", "https://attacker.example", "attacker.example"),
        (
            "minimax",
            "https://api.minimax.chat.attacker.example/v1",
            "api.minimax.chat.attacker.example",
        ),
        ("xai", "https://api.minimax.chat", "api.minimax.chat"),  # another provider's host
        ("useapi", "https://10.0.0.1:8443", "10.0.0.1"),
        ("useapi", "https://localhost.attacker.example", "localhost.attacker.example"),
    ],
)
def test_a_base_url_on_any_other_host_is_refused_at_its_line(
    tmp_path: Path, name: str, url: str, host: str
) -> None:
    (issue,) = issues_in(tmp_path, "version: 1\n" + section(name, "SOME_KEY", url))

    assert issue.path.endswith("base_url")
    assert issue.line == (6 if name != "useapi" else 5)
    assert issue.message.startswith(f"'{host}' is not a")
    assert f"RECONCILER_ALLOWED_HOSTS={host} in the environment of the job" in issue.message


def test_a_host_the_jobs_environment_lists_is_accepted(tmp_path: Path) -> None:
    text = "version: 1\n" + section("minimax", "K", "https://Proxy.Corp.Example:8443/minimax")
    environ = {"RECONCILER_ALLOWED_HOSTS": " other.example, proxy.corp.example. "}

    assert load_in(tmp_path, text, environ).minimax["g"].base_url.endswith("/minimax")
    assert issues_in(tmp_path, text, {"RECONCILER_ALLOWED_HOSTS": "corp.example"})


def test_the_allowed_hosts_are_exact_names_separated_by_commas_or_spaces() -> None:
    listed = allowed_hosts({"RECONCILER_ALLOWED_HOSTS": "A.example,b.example. c.example,,"})

    assert listed == {"a.example", "b.example", "c.example"}
    assert allowed_hosts({}) == frozenset()


def test_a_host_that_may_be_a_pasted_key_is_not_echoed(tmp_path: Path) -> None:
    pasted = "sk9f8e7d6c5b4a39281706f5e4d3c2b1a0"
    (issue,) = issues_in(tmp_path, "version: 1\n" + section("useapi", "K", f"https://{pasted}"))

    assert pasted[:12] not in str(issue)
    assert "RECONCILER_ALLOWED_HOSTS=HOST" in issue.message


def test_validate_and_plan_refuse_a_foreign_host_until_the_job_allows_it(workdir: Workdir) -> None:
    path = workdir.config("- name: a\n")
    path.write_text(path.read_text().replace(workdir.sandbox.url, "https://attacker.example"))

    for command in ("validate", "plan"):
        result = workdir.run(command)

        assert result.code == 1, result.output
        assert "Traceback" not in result.output
        assert (
            "reconciler.yaml:6: minimax.cn-main.base_url: 'attacker.example' is not a MiniMax host"
            in result.stderr
        )
    allowed = workdir.run("validate", env={"RECONCILER_ALLOWED_HOSTS": "attacker.example"})
    assert allowed.code == 0, allowed.output
