"""The README matches the CLI: every command and flag it names exists, and --help's options
are all in its Commands block; its links stay inside the repository."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from command_lines import options_of, problems

from reconciler.cli import cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
EXAMPLE_README = (ROOT / "examples" / "gitops" / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    start = README.index(f"## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def synopsis() -> dict[str, str]:
    """The Commands block: each command's synopsis text, continuation lines joined."""
    block = section("Commands").split("```")[1]
    found: dict[str, str] = {}
    name = ""
    for line in block.splitlines():
        match = re.match(r"reconciler ([a-z][\w-]*)", line)
        if match:
            name = match.group(1)
            found[name] = f"{found.get(name, '')} {line}"
        elif name and line.startswith(" "):
            found[name] += " " + line
    return found


def test_the_commands_block_lists_every_command_and_only_those():
    assert set(synopsis()) == set(cli.commands)


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_the_commands_block_names_exactly_the_options_of_each_command(name):
    command = cli.commands[name]
    commands = command.commands.values() if isinstance(command, click.Group) else [command]
    real = set().union(*(_spellings(c) for c in commands))
    written = set(re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", synopsis()[name].split("#")[0]))

    assert written == real


def _spellings(command: click.Command) -> set[str]:
    """Each option as the README writes it: its short form when it has one (``-c``)."""
    spelled = set()
    for option in options_of(command):
        param = next(p for p in command.params if option in getattr(p, "opts", ()))
        short = [o for o in param.opts if not o.startswith("--")]
        spelled.add(short[0] if short else param.opts[0])
    return spelled


def test_every_reconciler_command_in_the_readmes_exists():
    spans = re.findall(r"`(reconciler [^`]+)`", README + EXAMPLE_README)
    fenced = [
        line
        for block in re.findall(r"```\n(.*?)```", README + EXAMPLE_README, re.S)
        for line in block.splitlines()
        if line.startswith("reconciler ") and "[" not in line and "|" not in line
    ]
    lines = [s for s in spans if "..." not in s and "COMMAND" not in s] + fenced
    assert len(lines) > 10
    for line in lines:
        assert problems(line) == [], line


def test_the_quick_start_keeps_its_two_one_line_commands():
    blocks = re.findall(r"```\n(.*?)```", section("Quick start"), re.S)

    assert blocks == [
        "python3 -m venv .venv && .venv/bin/pip install -q . && .venv/bin/reconciler demo\n",
        "python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]' && .venv/bin/pytest -q\n",
    ]
    assert (ROOT / ".ci" / "run").read_text().strip().endswith(blocks[1].strip())


def test_every_link_in_the_readmes_points_inside_the_repository():
    for text, base in ((README, ROOT), (EXAMPLE_README, ROOT / "examples" / "gitops")):
        for target in re.findall(r"\]\(([^)]+)\)", text):
            if target.startswith("#"):
                continue
            assert not target.startswith(("http:", "https:", "/")), target
            assert (base / target.split("#")[0]).exists(), target
