"""``--target``: which addresses a target names, and a clear refusal when it names nothing.

Used by the planner (pure). A target is an address or a prefix of addresses: a group
(``minimax.cn-main``), every resource of a kind in it (``minimax.cn-main.sub_account``) or
one resource. A target that names nothing in the config or the state is an error with the
closest addresses suggested: in an apply-on-merge job, a typo or a name whose quotes the
shell ate would otherwise plan nothing and succeed.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import replace

from reconciler.errors import PlanError
from reconciler.model import Desired

_SUGGESTIONS = 3
_BARE_NAME = re.compile(r"\[([^\"\]]*)\]")  # ["ci-bot"] after a shell dropped the quotes


def matches(address: str, target: str) -> bool:
    """Whether ``target`` names ``address``: the address itself, or a prefix of it."""
    if address == target:
        return True
    return address.startswith(target) and address[len(target)] in ".["


def in_scope(config: Desired, targets: Sequence[str]) -> Desired:
    """The config cut down to the provider sections ``targets`` reach (all without targets).

    The refresh reads, and the credentials are asked for, only where a targeted plan can
    change something: a FinOps user holding only the xAI key can plan ``--target xai.prod``.
    The planner still sees the whole config (deletes and guards need it).
    """
    if not targets:
        return config
    return _sections(config, targets, reached=True)


def out_of_scope(config: Desired, targets: Sequence[str]) -> Desired:
    """The sections ``targets`` do not reach (none without targets): what a targeted plan
    neither reads nor judges."""
    if not targets:
        return replace(config, minimax={}, xai={}, useapi={})
    return _sections(config, targets, reached=False)


def _sections(config: Desired, targets: Sequence[str], reached: bool) -> Desired:
    def kept(provider: str, alias: str) -> bool:
        section = f"{provider}.{alias}"
        hit = any(matches(section, t) or matches(t, section) for t in targets)
        return hit == reached

    return replace(
        config,
        minimax={a: g for a, g in config.minimax.items() if kept("minimax", a)},
        xai={a: t for a, t in config.xai.items() if kept("xai", a)},
        useapi={a: u for a, u in config.useapi.items() if kept("useapi", a)},
    )


def check_targets(targets: Sequence[str], known: Iterable[str]) -> None:
    """Raise ``PlanError`` for targets naming nothing known, suggesting the closest names."""
    known = set(known)
    problems = [
        _unknown(target, known)
        for target in targets
        if not any(matches(address, target) for address in known)
    ]
    if problems:
        raise PlanError("\n".join(problems))


def _unknown(target: str, known: set[str]) -> str:
    message = f"--target {target} names nothing in the config or the state"
    quoted = _BARE_NAME.sub(lambda m: f"[{json.dumps(m.group(1), ensure_ascii=False)}]", target)
    if quoted != target and any(matches(address, quoted) for address in known):
        return (
            f"{message}. Did you mean {quoted}? Quote the whole address for the shell: "
            f"--target '{quoted}'"
        )
    close = difflib.get_close_matches(target, sorted(_candidates(known)), _SUGGESTIONS, 0.6)
    if close:
        return f"{message}. Did you mean: {', '.join(close)}?"
    return f"{message} (see `reconciler state list`, or the addresses in `reconciler plan`)"


def _candidates(known: set[str]) -> set[str]:
    """Known addresses and their prefixes (``minimax``, ``minimax.cn-main``, ...)."""
    found = set(known)
    for address in known:
        parts = address.split("[", 1)[0].split(".")
        found.update(".".join(parts[:i]) for i in range(1, len(parts)))
        found.add(address.split("[", 1)[0])
    return found
