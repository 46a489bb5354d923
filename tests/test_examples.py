"""The shipped GitOps example runs as written: its workflows' steps, against the sandbox.

``examples/gitops`` is a repository a user would copy: a provider file and one file per
team under ``reconciler/``, three GitHub Actions workflows and a pre-commit config. These
tests parse every YAML file, check that every ``reconciler ...`` command they hold exists,
run each workflow's shell steps with bash as the runner would (the state branch is a git
clone of a local bare repository; the base URLs point at the sandbox), and run the
``actions/github-script`` steps with node against a fake GitHub API.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from cli_runner import command_dir
from command_lines import problems, reconciler_lines

from reconciler.sandbox import SANDBOX_XAI_TEAM_ID

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "gitops"
WORKFLOWS = EXAMPLE / ".github" / "workflows"
HOOKS = ROOT / ".pre-commit-hooks.yaml"
REAL_URLS = ("https://api.minimax.chat", "https://management-api.x.ai")
EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")


def workflow(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))


def steps(name: str) -> list[dict]:
    (job,) = workflow(name)["jobs"].values()
    return job["steps"]


def step(name: str, title: str) -> dict:
    return next(s for s in steps(name) if s.get("name") == title)


# -- what the files say --


def test_every_yaml_file_of_the_examples_parses():
    files = [*EXAMPLE.rglob("*.yml"), *EXAMPLE.rglob("*.yaml"), HOOKS]
    assert len(files) >= 9
    for file in files:
        assert yaml.safe_load(file.read_text(encoding="utf-8")) is not None, file


@pytest.mark.parametrize(
    "name",
    [
        "reconciler-plan.yml",
        "reconciler-apply.yml",
        "reconciler-drift.yml",
        "reconciler-plan-postgres.yml",
        "reconciler-apply-postgres.yml",
    ],
)
def test_each_workflow_has_triggers_a_job_and_steps_that_use_or_run(name):
    document = workflow(name)

    triggers = document.get("on", document.get(True))  # YAML 1.1 reads a bare `on` as true
    assert triggers
    (job,) = document["jobs"].values()
    assert job["runs-on"] == "ubuntu-latest"
    for each in job["steps"]:
        assert ("uses" in each) != ("run" in each), each
    assert document["defaults"]["run"]["shell"] == "bash"


@pytest.mark.parametrize("name", ["reconciler-apply.yml", "reconciler-apply-postgres.yml"])
def test_the_apply_workflow_runs_one_apply_at_a_time_and_never_cancels_one(name):
    assert workflow(name)["concurrency"] == {
        "group": "reconciler-apply",
        "cancel-in-progress": False,
    }


def test_every_reconciler_command_in_the_workflows_and_hooks_exists():
    lines = [
        line
        for name in WORKFLOWS.iterdir()
        for s in steps(name.name)
        for line in reconciler_lines(s.get("run", ""))
    ]
    lines += [yaml.safe_load(HOOKS.read_text())[0]["entry"]]
    assert len(lines) >= 7
    for line in lines:
        assert problems(line) == [], line


def test_the_workflows_install_this_distribution_at_this_version():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = f"{project['name']}=={project['version']}"
    with_postgres = f"{project['name']}[postgres]=={project['version']}"
    assert "postgres" in project["optional-dependencies"]
    for file in WORKFLOWS.iterdir():
        package = workflow(file.name)["env"]["RECONCILER_PACKAGE"]
        assert package == (with_postgres if "postgres" in file.name else wanted)
    assert project["name"] != "reconciler"  # that name on PyPI is an unrelated pandas utility


def test_the_pre_commit_hook_and_the_example_config_are_valid_for_pre_commit():
    tool = [sys.executable, "-m", "pre_commit"]
    manifest = subprocess.run(
        [*tool, "validate-manifest", str(HOOKS)], capture_output=True, text=True
    )
    config = subprocess.run(
        [*tool, "validate-config", str(EXAMPLE / ".pre-commit-config.yaml")],
        capture_output=True,
        text=True,
    )

    assert manifest.returncode == 0, manifest.stdout + manifest.stderr
    assert config.returncode == 0, config.stdout + config.stderr
    (hook,) = yaml.safe_load(HOOKS.read_text())
    pattern = re.compile(hook["files"])
    assert pattern.search("reconciler/team-a.yaml") and pattern.search("reconciler.yml")
    assert not pattern.search("src/app.yaml")


# -- running the workflows against the sandbox --


def postgres_state_block() -> str:
    """The `state:` block the example's README gives for keeping the state in PostgreSQL."""
    readme = (EXAMPLE / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- postgres-state -->\n```yaml\n", 1)[1].split("```", 1)[0]
    assert block.startswith("state:\n  backend: postgres\n"), block
    return block


class Runner:
    """A checkout of the example repo and the runner's environment for its shell steps."""

    def __init__(self, tmp_path: Path, sandbox, pg=None) -> None:
        self.sandbox = sandbox
        self.repo = tmp_path / "repo"
        shutil.copytree(EXAMPLE, self.repo)
        if pg is not None:
            providers = self.repo / "reconciler" / "providers.yaml"
            text = providers.read_text(encoding="utf-8")
            start, end = text.index("state:\n"), text.index("\nsecrets:")
            block = postgres_state_block().replace("schema: reconciler", f"schema: {pg.schema}")
            providers.write_text(text[:start] + block + text[end:], encoding="utf-8")
        for file in (self.repo / "reconciler").glob("*.yaml"):
            text = file.read_text(encoding="utf-8")
            for url in REAL_URLS:
                text = text.replace(url, sandbox.url)
            file.write_text(text, encoding="utf-8")
        self.origin = tmp_path / "origin.git"
        self._state_branch()
        self.bin = command_dir(tmp_path)
        self.files = tmp_path / "runner"
        self.files.mkdir()
        from reconciler.sandbox import SANDBOX_MINIMAX_API_KEY, SANDBOX_XAI_MANAGEMENT_KEY
        from reconciler.secrets import generate_key

        self.secrets = {
            "MINIMAX_API_KEY": SANDBOX_MINIMAX_API_KEY,
            "XAI_MANAGEMENT_KEY": SANDBOX_XAI_MANAGEMENT_KEY,
            "RECONCILER_SECRET_KEY": generate_key(),
        }
        if pg is not None:
            self.secrets.update(RECONCILER_PG_DSN=pg.dsn, RECONCILER_PG_DSN_PLAN=pg.dsn)

    def _state_branch(self) -> None:
        """The reconciler-state branch, made once as the example's README says."""
        git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
        seed = self.origin.parent / "seed"
        subprocess.run(["git", "init", "-q", "--bare", str(self.origin)], check=True)
        subprocess.run(["git", "init", "-q", "-b", "reconciler-state", str(seed)], check=True)
        subprocess.run(
            [*git, "-C", str(seed), "commit", "-q", "--allow-empty", "-m", "state"], check=True
        )
        subprocess.run(
            ["git", "-C", str(seed), "push", "-q", str(self.origin), "reconciler-state"], check=True
        )
        clone = ["git", "clone", "-q", "--branch", "reconciler-state", str(self.origin)]
        subprocess.run([*clone, str(self.repo / "state")], check=True)

    def run(
        self, name: str, title: str, *, secrets=True, inputs=None
    ) -> subprocess.CompletedProcess[str]:
        """One ``run:`` step, as the runner runs it: bash -eo pipefail, the step's env."""
        document = workflow(name)
        (job,) = document["jobs"].values()
        each = step(name, title)
        values = {
            **{f"secrets.{k}": (v if secrets else "") for k, v in self.secrets.items()},
            **{f"inputs.{k}": v for k, v in (inputs or {"force": "false"}).items()},
        }
        env = {"PATH": f"{self.bin}:/usr/bin:/bin", "HOME": str(self.files), "LANG": "C.UTF-8"}
        for scope in (document.get("env", {}), job.get("env", {}), each.get("env", {})):
            env.update({key: _expand(str(value), values) for key, value in scope.items()})
        env["GITHUB_OUTPUT"] = str(self.files / "output")
        env["GITHUB_STEP_SUMMARY"] = str(self.files / "summary")
        env["GITHUB_SHA"] = "0123456789abcdef"
        script = self.files / "step.sh"
        script.write_text(each["run"], encoding="utf-8")
        cwd = self.repo / each.get("working-directory", ".")
        command = ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)]
        return subprocess.run(
            command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120
        )

    def output(self) -> dict[str, str]:
        lines = (self.files / "output").read_text().splitlines()
        return dict(line.split("=", 1) for line in lines)

    def committed_files(self) -> list[str]:
        listed = subprocess.run(
            ["git", "-C", str(self.origin), "ls-tree", "--name-only", "reconciler-state"],
            capture_output=True,
            text=True,
            check=True,
        )
        return sorted(listed.stdout.split())

    def committed_state(self) -> dict:
        shown = subprocess.run(
            ["git", "-C", str(self.origin), "show", "reconciler-state:reconciler.json"],
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(shown.stdout)


def _expand(text: str, values: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        assert match.group(1) in values, f"a run step's env uses ${{{{ {match.group(1)} }}}}"
        return values[match.group(1)]

    return EXPRESSION.sub(value, text)


@pytest.fixture
def runner(tmp_path, sandbox) -> Runner:
    if shutil.which("git") is None:
        pytest.fail("git is needed to run the example workflows")
    return Runner(tmp_path, sandbox)


@pytest.fixture
def pg_runner(tmp_path, sandbox, pg) -> Runner:
    """The example with the state in PostgreSQL, as its README says to set it up."""
    if shutil.which("git") is None:
        pytest.fail("git is needed to run the example workflows")
    return Runner(tmp_path, sandbox, pg)


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result


def test_a_pull_request_is_validated_and_planned_into_a_comment_sized_markdown(runner):
    ok(runner.run("reconciler-plan.yml", "Validate"))
    planned = ok(runner.run("reconciler-plan.yml", "Plan"))

    markdown = (runner.repo / "plan.md").read_text(encoding="utf-8")
    assert "**Plan: 8 to create" in markdown
    assert len(markdown) < 65_536 - 100
    assert "Plan: 8 to create" in planned.stdout  # `reconciler show` in the log
    assert markdown in (runner.files / "summary").read_text(encoding="utf-8")
    assert list(runner.sandbox.minimax_accounts(runner_group())) == []


def test_a_pull_request_from_a_fork_plans_with_no_credentials_and_no_provider_call(runner):
    planned = ok(runner.run("reconciler-plan.yml", "Plan", secrets=False))

    assert "**Plan: 8 to create" in (runner.repo / "plan.md").read_text(encoding="utf-8")
    assert "RECONCILER\\_SECRET\\_KEY is unset" in (runner.repo / "plan.md").read_text()
    assert runner.sandbox.requests == []
    assert "Traceback" not in planned.stderr


def test_a_merge_applies_the_plan_and_commits_the_state_to_its_branch(runner):
    ok(runner.run("reconciler-apply.yml", "Plan"))
    applied = ok(runner.run("reconciler-apply.yml", "Apply"))
    ok(runner.run("reconciler-apply.yml", "Record the state"))

    assert "Apply complete: 9 succeeded, 0 failed, 0 skipped." in applied.stdout
    assert len(runner.sandbox.minimax_accounts(runner_group())) == 8
    assert len(runner.committed_state()["resources"]) == 9
    assert runner.committed_files() == ["reconciler.json", "reconciler.secrets.json"]
    for secret in (a["token"] for a in runner.sandbox.minimax_accounts(runner_group())):
        assert secret not in (runner.repo / "state" / "reconciler.secrets.json").read_text()
    again = ok(runner.run("reconciler-apply.yml", "Plan"))
    assert "No changes." in again.stdout


def test_with_the_state_in_postgresql_a_merge_applies_and_a_pull_request_plans_against_it(
    pg_runner,
):
    runner = pg_runner
    ok(runner.run("reconciler-plan-postgres.yml", "Validate"))
    ok(runner.run("reconciler-plan-postgres.yml", "Plan"))
    assert "**Plan: 8 to create" in (runner.repo / "plan.md").read_text(encoding="utf-8")

    ok(runner.run("reconciler-apply-postgres.yml", "Plan"))
    applied = ok(runner.run("reconciler-apply-postgres.yml", "Apply"))
    ok(runner.run("reconciler-apply-postgres.yml", "Pull a copy of the state"))

    assert "Apply complete: 9 succeeded, 0 failed, 0 skipped." in applied.stdout
    assert len(runner.sandbox.minimax_accounts(runner_group())) == 8
    pulled = json.loads((runner.repo / "state.json").read_text(encoding="utf-8"))
    assert len(pulled["state"]["resources"]) == 9
    assert not (runner.repo / "state" / "reconciler.json").exists()
    again = ok(runner.run("reconciler-plan-postgres.yml", "Plan"))
    assert "No changes." in again.stdout
    fork = ok(runner.run("reconciler-plan-postgres.yml", "Plan", secrets=False))
    assert "from a fork cannot read the state" in (runner.repo / "plan.md").read_text()
    assert runner.output()["status"] == "0" and "Traceback" not in fork.stderr


def test_deleting_a_teams_file_is_refused_on_merge_until_dispatched_with_force(runner):
    ok(runner.run("reconciler-apply.yml", "Plan"))
    ok(runner.run("reconciler-apply.yml", "Apply"))
    (runner.repo / "reconciler" / "team-data.yaml").unlink()

    planned = ok(runner.run("reconciler-apply.yml", "Plan"))
    refused = runner.run("reconciler-apply.yml", "Apply")
    forced = runner.run("reconciler-apply.yml", "Apply", inputs={"force": "true"})

    assert "deletes or disables 3 of its 8 managed sub-accounts (37.5%)" in planned.stdout
    assert refused.returncode == 1 and "this plan is unsafe" in refused.stderr
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert len(runner.sandbox.minimax_accounts(runner_group())) == 5


def test_the_nightly_check_reports_no_drift_then_drift_then_fails_on_errors(runner):
    ok(runner.run("reconciler-apply.yml", "Plan"))
    ok(runner.run("reconciler-apply.yml", "Apply"))

    ok(runner.run("reconciler-drift.yml", "Look for drift"))
    calm = runner.output()["status"]
    runner.sandbox.set_xai_soft_limit(SANDBOX_XAI_TEAM_ID, 25000)
    ok(runner.run("reconciler-drift.yml", "Look for drift"))
    drifted = runner.output()["status"]
    report = (runner.repo / "drift.md").read_text(encoding="utf-8")
    broken = runner.run("reconciler-drift.yml", "Look for drift", secrets=False)

    assert (calm, drifted) == ("0", "2")
    assert "| update (drift) | `xai.prod.spending_limit` |" in report
    assert broken.returncode == 1 and "MINIMAX_API_KEY" in broken.stderr


def runner_group() -> str:
    from reconciler.sandbox import SANDBOX_MINIMAX_GROUP_ID

    return SANDBOX_MINIMAX_GROUP_ID


# -- the github-script steps, with node and a fake GitHub API --

FAKE_GITHUB = """
const calls = [];
const fake = JSON.parse(process.env.FAKE);
const record = (name) => async (args) => { calls.push([name, args]); return { data: {} }; };
const github = {
  paginate: async (fn, args) => (await fn(args)).data,
  rest: { issues: {
    listComments: async () => ({ data: fake.comments || [] }),
    listForRepo: async () => ({ data: fake.issues || [] }),
    updateComment: record('updateComment'), createComment: record('createComment'),
    create: record('create'), update: record('update'),
  } },
};
const context = {
  repo: { owner: 'o', repo: 'r' }, issue: { number: 7 }, serverUrl: 'https://github.com', runId: 42,
};
(async () => {
SCRIPT
})().then(() => console.log(JSON.stringify(calls))).catch((e) => { console.error(e); process.exit(1); });
"""


def github_script(name: str, title: str, cwd: Path, fake: dict, env: dict | None = None) -> list:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node runs the github-script steps; it is not installed here")
    script = step(name, title)["with"]["script"]
    program = cwd / "script.js"
    program.write_text(FAKE_GITHUB.replace("SCRIPT", script), encoding="utf-8")
    result = subprocess.run(
        [node, str(program)],
        cwd=cwd,
        env={"PATH": os.environ.get("PATH", ""), "FAKE": json.dumps(fake), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_plan_comment_is_created_once_then_updated_in_place(tmp_path):
    (tmp_path / "plan.md").write_text("### reconciler plan\n", encoding="utf-8")
    title = "Post the plan as one sticky comment"
    marker = "<!-- reconciler-plan -->"
    human = {"id": 1, "user": {"type": "User"}, "body": f"{marker} quoting the bot"}
    bot = {"id": 2, "user": {"type": "Bot"}, "body": f"{marker}\nold plan"}

    first = github_script("reconciler-plan.yml", title, tmp_path, {"comments": [human]})
    later = github_script("reconciler-plan.yml", title, tmp_path, {"comments": [human, bot]})

    assert [(name, args.get("issue_number")) for name, args in first] == [("createComment", 7)]
    assert first[0][1]["body"] == f"{marker}\n### reconciler plan\n"
    assert [(name, args["comment_id"]) for name, args in later] == [("updateComment", 2)]


def test_the_drift_issue_is_opened_updated_and_closed(tmp_path):
    (tmp_path / "drift.md").write_text("### reconciler plan\n", encoding="utf-8")
    title = "Open, update or close the drift issue"
    issue = {"number": 9, "body": "<!-- reconciler-drift -->\nold"}
    other = {"number": 3, "body": "unrelated"}

    opened = github_script(
        "reconciler-drift.yml", title, tmp_path, {"issues": [other]}, {"STATUS": "2"}
    )
    updated = github_script(
        "reconciler-drift.yml", title, tmp_path, {"issues": [other, issue]}, {"STATUS": "2"}
    )
    closed = github_script(
        "reconciler-drift.yml", title, tmp_path, {"issues": [issue]}, {"STATUS": "0"}
    )
    quiet = github_script(
        "reconciler-drift.yml", title, tmp_path, {"issues": [other]}, {"STATUS": "0"}
    )

    assert [name for name, _ in opened] == ["create"]
    assert opened[0][1]["body"].startswith("<!-- reconciler-drift -->\n")
    assert [(name, args["issue_number"]) for name, args in updated] == [("update", 9)]
    assert "state" not in updated[0][1]
    assert [name for name, _ in closed] == ["createComment", "update"]
    assert closed[1][1]["state"] == "closed"
    assert quiet == []


def test_a_failed_plan_replaces_the_comment_with_the_error_and_fails_the_check(runner):
    team = next((runner.repo / "reconciler").glob("team-*.yaml"))
    team.write_text(team.read_text(encoding="utf-8") + "      - name: [broken\n", "utf-8")

    planned = runner.run("reconciler-plan.yml", "Plan")

    assert planned.returncode == 0  # the step records the failure; the last step fails
    markdown = (runner.repo / "plan.md").read_text(encoding="utf-8")
    assert markdown.startswith("### The plan failed")
    assert "YAML syntax error" in markdown and team.name in markdown
    assert runner.output()["status"] == "1"
    failed = runner.run("reconciler-plan.yml", "Fail the check when the plan failed")
    assert failed.returncode == 1


def test_only_the_main_branch_is_ever_applied_even_when_run_by_hand():
    document = workflow("reconciler-apply.yml")
    (job,) = document["jobs"].values()

    assert "workflow_dispatch" in document[True]  # YAML 1.1 reads the `on:` key as true
    assert job["if"] == "github.ref == 'refs/heads/main'"
