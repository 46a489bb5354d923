"""Check that a ``reconciler ...`` command line, as written in docs and workflows, exists.

Walks the real click command tree (``reconciler.cli.cli``): every command, subcommand and
option a line names must be one the CLI accepts. Used by the tests of the README, the
example workflows and the pre-commit hook definition.
"""

from __future__ import annotations

import re
import shlex

import click

from reconciler.cli import cli

_SHELL_STOP = {"|", "||", "&&", ";", ">", ">>", "2>", "<", "&", ")"}


def reconciler_lines(script: str) -> list[str]:
    """Every ``reconciler ...`` invocation in a shell script, one per command."""
    found = []
    joined = script.replace("\\\n", " ")
    for line in joined.splitlines():
        line = re.sub(r"(^|\s)#.*", "", line)  # a shell comment
        for match in re.finditer(r"(?:^|[\s;&|(])(reconciler\s[^\n]*)", line):
            found.append(match.group(1))
    return found


def problems(line: str) -> list[str]:
    """What in ``line`` (starting with ``reconciler``) the CLI does not accept."""
    words = shlex.split(line, comments=True)
    assert words[0] == "reconciler", line
    command: click.Command = cli
    issues = []
    expect_value = False
    for word in words[1:]:
        if word in _SHELL_STOP or word.startswith((">", "2>", "|")):
            break
        if expect_value:
            expect_value = False
            continue
        if word.startswith("-") and word != "-":
            name = word.split("=", 1)[0]
            option = _option(command, name)
            if option is None:
                issues.append(f"{' '.join(_path(command))}: no option {name}")
            elif not option.is_flag and "=" not in word:
                expect_value = True
            continue
        if isinstance(command, click.Group) and not word.startswith("$"):
            sub = command.commands.get(word)
            if sub is None:
                issues.append(f"{' '.join(_path(command))}: no command {word}")
                break
            command = sub
    return issues


def options_of(command: click.Command) -> set[str]:
    """Every option spelling of a command, without --help."""
    return {
        opt
        for param in command.params
        if isinstance(param, click.Option)
        for opt in (*param.opts, *param.secondary_opts)
        if opt not in ("--help", "-h")
    }


def _option(command: click.Command, name: str) -> click.Option | None:
    if name in ("--help", "-h"):
        return click.Option(["--help"], is_flag=True)
    for param in command.params:
        if isinstance(param, click.Option) and name in (*param.opts, *param.secondary_opts):
            return param
    return None


def _path(command: click.Command) -> list[str]:
    return ["reconciler"] if command is cli else ["reconciler", command.name or "?"]
