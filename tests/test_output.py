"""What people read: colour on a terminal only, apply progress, markdown under GitHub's limit.

Terminal tests run the real CLI on a pseudo-terminal (``pty``): colour must appear there
and nowhere else (``NO_COLOR``, ``--no-color``, a pipe as in CI).
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from reconciler.markdown import GITHUB_COMMENT_LIMIT, render_markdown
from reconciler.model import Action, Change, Plan
from reconciler.progress import Progress

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def on_terminal(workdir, *args: str, env: dict[str, str] | None = None, typed: str = "") -> str:
    """Run the CLI with stdin, stdout and stderr on a pseudo-terminal; all it wrote there."""
    merged = {k: v for k, v in {**workdir.env, **(env or {})}.items() if v is not None}
    main, child = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-m", "reconciler", *args],
        cwd=workdir.path,
        env=merged,
        stdin=child,
        stdout=child,
        stderr=child,
    ) as proc:
        os.close(child)
        if typed:
            os.write(main, typed.encode())
        chunks = []
        while True:
            ready, _, _ = select.select([main], [], [], 60)
            if not ready:
                proc.kill()
                break
            try:
                chunk = os.read(main, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        proc.wait(timeout=60)
    os.close(main)
    return b"".join(chunks).decode("utf-8", "replace")


def _three_actions(workdir) -> None:
    """A plan with a create (+), an update (~) and a delete (-)."""
    workdir.config("- name: stays\n- name: goes-away\n- name: turned-off\n")
    assert workdir.run("apply", "--auto-approve").code == 0
    workdir.config("- name: stays\n- name: turned-off\n  status: disabled\n- name: new-one\n")


def test_plans_are_coloured_on_a_terminal_like_terraform(workdir):
    _three_actions(workdir)

    shown = on_terminal(workdir, "plan")

    assert "\x1b[32m+\x1b[0m sub_account {" in shown  # green +
    assert "\x1b[33m~\x1b[0m sub_account {" in shown  # yellow ~
    assert "\x1b[31m-\x1b[0m sub_account {" in shown  # red -


def test_no_colour_with_no_color_or_the_flag_or_without_a_terminal(workdir):
    _three_actions(workdir)

    with_env = on_terminal(workdir, "plan", env={"NO_COLOR": "1"})
    with_flag = on_terminal(workdir, "plan", "--no-color")
    piped = workdir.run("plan")

    summary = "Plan: 1 to create, 1 to update, 0 to rotate, 1 to delete."
    for output in (with_env, with_flag, piped.stdout):
        assert summary in output
        assert not ANSI.search(output)
    assert not ANSI.search(piped.stderr)


def test_markdown_and_json_are_never_coloured_even_on_a_terminal(workdir):
    _three_actions(workdir)

    for fmt in ("markdown", "json"):
        assert not ANSI.search(on_terminal(workdir, "plan", "--format", fmt))


def test_interactive_apply_shows_the_plan_and_its_summary_once(workdir):
    workdir.config("- name: a\n- name: b\n")

    shown = on_terminal(workdir, "apply", typed="no\n")

    assert shown.count("Plan: 2 to create, 0 to update, 0 to rotate, 0 to delete.") == 1
    assert "Do you want to perform these actions?" in shown
    assert "Apply cancelled. Nothing was changed." in shown
    assert workdir.accounts() == {}


def test_a_200_create_apply_counts_every_change_with_its_time(workdir):
    workdir.config("\n".join(f"- name: bot-{n:03}" for n in range(200)))

    applied = workdir.run("apply", "--auto-approve", "--parallelism", "8", timeout=180)

    assert applied.code == 0, applied.output
    lines = [line for line in applied.stderr.splitlines() if line.startswith("[")]
    assert len(lines) == 200
    counters = sorted(int(line[1:].split("/", 1)[0]) for line in lines)
    assert counters == list(range(1, 201))
    shape = re.compile(
        r'\[\d+/200\] create minimax\.cn-main\.sub_account\["bot-\d{3}"\] done \d+\.\ds'
    )
    assert all(shape.match(line) for line in lines), lines[:3]
    assert applied.stdout.count("Plan: 200 to create") == 1


def test_progress_notes_show_values_as_plans_do(workdir):
    workdir.config("- name: a\n")
    assert workdir.run("apply", "--auto-approve").code == 0
    workdir.config("- name: a\n  status: disabled\n  prevent_destroy: true\n")

    applied = workdir.run("apply", "--auto-approve")

    assert applied.code == 0, applied.output
    assert '(status = "disabled", prevent_destroy = true)' in applied.stderr
    assert "True" not in applied.stderr


# -- progress, with a clock the test turns --


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def change(name: str, action: Action = Action.CREATE) -> Change:
    return Change(f'minimax.cn-main.sub_account["{name}"]', action, None, {}, "new in config")


def test_each_finished_change_reports_its_place_and_its_time():
    lines: list[str] = []
    clock = Clock()
    progress = Progress(3, lines.append, clock)
    first, second = change("a"), change("b")

    progress.started(first)
    progress.started(second)
    clock.now += 0.4
    progress.finished(second, "done", "subject_id 7")
    clock.now += 1.2
    progress.finished(first, "FAILED")

    assert lines == [
        '[1/3] create minimax.cn-main.sub_account["b"] done 0.4s (subject_id 7)',
        '[2/3] create minimax.cn-main.sub_account["a"] FAILED 1.6s',
    ]


def test_changes_finishing_at_once_in_many_threads_are_counted_in_the_order_printed():
    lines: list[str] = []

    def slow_report(line: str) -> None:
        time.sleep(0.001)  # a slow terminal: a thread printing late must not print out of turn
        lines.append(line)

    changes = [change(f"c{i}") for i in range(64)]
    progress = Progress(len(changes), slow_report)
    for each in changes:
        progress.started(each)
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda each: progress.finished(each, "done"), changes))

    counts = [int(line[1:].split("/")[0]) for line in lines]
    assert counts == list(range(1, 65))


def test_a_call_slower_than_five_seconds_gets_a_heartbeat_every_five_seconds():
    lines: list[str] = []
    clock = Clock()
    progress = Progress(2, lines.append, clock)
    slow = change("slow")
    progress.started(slow)

    for step in (4.9, 5.0, 9.9, 10.1, 14.0):
        clock.now = 100.0 + step
        progress.beat()

    assert lines == [
        '[0/2] create minimax.cn-main.sub_account["slow"] still running (5s elapsed)',
        '[0/2] create minimax.cn-main.sub_account["slow"] still running (10s elapsed)',
    ]
    progress.finished(slow, "done")
    clock.now += 60
    progress.beat()
    assert len(lines) == 3  # nothing in flight, nothing to say


# -- markdown under GitHub's comment limit --


def big_plan(count: int, groups: int = 4) -> Plan:
    changes = []
    for n in range(count):
        alias = f"team-{n % groups}"
        name = f"service-account-for-the-{n:04}-pipeline-of-{alias}"
        changes.append(
            Change(
                f'minimax.{alias}.sub_account["{name}"]',
                Action.CREATE,
                None,
                {
                    "name": name,
                    "status": "enabled",
                    "token_generation": 0,
                    "prevent_destroy": False,
                },
                "new in config",
            )
        )
    changes.sort(key=lambda c: c.address)
    warnings = tuple(f"warning number {n} about something long enough to matter" for n in range(50))
    return Plan(changes=tuple(changes), warnings=warnings)


def test_a_1000_change_markdown_plan_fits_a_github_comment_and_says_what_it_cut():
    markdown = render_markdown(big_plan(1000))

    assert len(markdown) < GITHUB_COMMENT_LIMIT
    assert "**Plan: 1000 to create, 0 to update, 0 to rotate, 0 to delete.**" in markdown
    shown = markdown.count("| create | `minimax.")
    assert 0 < shown < 1000
    assert f"**Summarised:** this comment lists {shown:,} of 1,000 changes" in markdown
    for group in range(4):  # the summary table counts every change of every group
        assert f"| `minimax.team-{group}` | 250 | 0 | 0 | 0 |" in markdown


def test_the_summary_table_comes_first_and_each_group_collapses():
    markdown = render_markdown(big_plan(100))

    table = markdown.index("| group | create | update | rotate | delete |")
    first_details = markdown.index("<details><summary><code>minimax.team-0</code>: 25 to create")
    assert table < first_details
    assert markdown.count("</details>") == 4
    assert "Summarised" not in markdown


def test_a_small_markdown_plan_shows_its_changes_expanded():
    markdown = render_markdown(big_plan(8, groups=2))

    assert markdown.count("<details open>") == 2


def test_a_flood_of_warnings_is_cut_and_counted():
    plan = Plan(warnings=tuple("w" * 1000 for _ in range(200)), changes=big_plan(4).changes)

    markdown = render_markdown(plan)

    assert len(markdown) < GITHUB_COMMENT_LIMIT
    assert re.search(r"> \.\.\. and \d+ more warnings", markdown)
    assert "| create |" in markdown


def test_each_warning_is_its_own_paragraph_wherever_the_markdown_is_rendered():
    from markdown_it import MarkdownIt

    plan = Plan(warnings=("first warning", "second warning", "third warning"))

    html = MarkdownIt("commonmark").render(render_markdown(plan))  # no hard line breaks

    paragraphs = re.findall(r"<p>(.*?)</p>", html, re.S)
    warned = [p for p in paragraphs if "Warning:" in p]
    assert len(warned) == 3 and all(p.count("Warning:") == 1 for p in warned)


def test_a_1000_account_plan_from_the_cli_fits_one_pull_request_comment(workdir):
    workdir.config("\n".join(f"- name: service-account-number-{n:04}" for n in range(1000)))

    planned = workdir.run("plan", "--no-refresh", "--format", "markdown")

    assert planned.code == 0, planned.output
    assert len(planned.stdout) < GITHUB_COMMENT_LIMIT
    assert "| `minimax.cn-main` | 1000 | 0 | 0 | 0 |" in planned.stdout
    assert re.search(
        r"\*\*Summarised:\*\* this comment lists \d{3} of 1,000 changes", planned.stdout
    )
