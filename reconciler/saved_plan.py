"""Saved plans: ``plan --out FILE`` writes one, ``apply FILE`` checks it still holds, then runs it.

A saved plan is self-contained, as Terraform's: it records the config files it was made
from (paths relative to where plan ran, each with its SHA-256), where plan ran relative to
the plan file, the state it was computed against (lineage and serial) and the live values
the refresh read. So ``apply FILE`` needs no ``-c``, works from another directory, and
refuses a stale plan before any change, naming what moved: a config file (by name), the
state, or a live value. It also refuses changes that planning again would not produce: a
plan file is data anyone can edit.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.differences import changed_attributes
from reconciler.errors import PlanError
from reconciler.fsutil import load_json, version_problem
from reconciler.model import Change, ConfigFile, Desired, Plan
from reconciler.planner import make_plan
from reconciler.refresh import Live, live_from_json
from reconciler.render import FORMAT_VERSION, plan_to_dict
from reconciler.resources import kind_of
from reconciler.schema import plan_document_problem
from reconciler.state import StateDocument

if TYPE_CHECKING:
    from reconciler.billing.report import MoneyReport


def save_plan(plan: Plan, path: str) -> None:
    """Write the plan's JSON, with where plan ran relative to the file (``apply`` finds it)."""
    document = plan_to_dict(plan)
    here = os.path.dirname(os.path.abspath(path))
    document["working_directory"] = Path(os.path.relpath(os.getcwd(), here)).as_posix()
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    target = Path(path)
    temp = target.with_name(f".{target.name}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, target)  # a plan file is whole or absent, never half written
    except OSError as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise PlanError(f"cannot write the plan to {path}: {exc.strerror or exc}") from None


def load_saved_plan(path: str) -> Plan:
    """Read a plan saved with ``--out``; a file that is not one is a clear error."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise PlanError(f"cannot read plan file {path}: {exc.strerror or exc}") from None
    made_by = "a saved plan is the JSON file `reconciler plan --out FILE` writes"
    data: Any = load_json(raw, path, PlanError, made_by)
    if not isinstance(data, dict) or "format_version" not in data:
        raise PlanError(f"{path} is not a saved reconciler plan: {made_by}")
    version = version_problem(data["format_version"], FORMAT_VERSION, "format_version")
    if version:
        raise PlanError(f"{path}: {version}")
    problem = plan_document_problem(data)
    if problem:
        raise PlanError(f"{path} is not a valid saved plan: {problem}")
    try:
        plan = Plan(
            changes=tuple(Change.from_dict(c) for c in data["changes"]),
            warnings=tuple(data.get("warnings", [])),
            lineage=data["state"]["lineage"],
            serial=int(data["state"]["serial"]),
            config_digest=data["config_digest"],
            created_at=data.get("created_at", ""),
            live=data["live"],
            refreshed=data["refreshed"],
            money=_saved_money(data.get("money"), path),
            unsafe=tuple(data.get("unsafe", [])),
            config_files=tuple(
                ConfigFile(f["path"], f["sha256"]) for f in data.get("config_files", [])
            ),
            working_directory=data.get("working_directory"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PlanError(f"{path} is not a valid saved plan ({exc})") from None
    live_from_json(plan.live, plan.refreshed, path)  # every live value reads back
    return plan


def _saved_money(data: Any, path: str) -> MoneyReport | None:
    """The money a saved plan carries (None when it was made without a refresh)."""
    if data is None:
        return None
    from reconciler.billing.report import report_from_json

    try:
        return report_from_json(data)
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise PlanError(f"{path}: its money figures do not read back ({exc})") from None


def saved_config(plan: Plan, path: str) -> tuple[list[str], str | None]:
    """The config files ``plan`` was made from, and the directory plan ran in (None: here).

    They are looked up from the current directory first (a CI job that downloaded the
    plan into its checkout), then from where plan ran, found from the plan file's place
    (``apply repo/p.plan`` run from elsewhere).
    """
    if not plan.config_files:
        raise PlanError(
            f"{path} does not record the config files it was made from (an older version saved "
            "it): pass -c PATH, or plan again"
        )
    bases: list[str | None] = [None]
    if plan.working_directory is not None:
        origin = os.path.normpath(
            os.path.join(os.path.dirname(os.path.abspath(path)), plan.working_directory)
        )
        if origin != os.getcwd():
            bases.append(origin)
    for base in bases:
        files = [os.path.join(base, f.path) if base else f.path for f in plan.config_files]
        if all(os.path.isfile(file) for file in files):
            return files, base
    missing = [f.path for f in plan.config_files if not os.path.isfile(f.path)]
    raise PlanError(
        f"the config files the saved plan {path} was made from are not found: "
        f"{', '.join(missing)} (paths relative to the directory plan ran in). Run apply "
        "from that directory, or pass -c PATH."
    )


def relative_files(desired: Desired, base: str | None) -> tuple[ConfigFile, ...]:
    """The config's files relative to ``base`` (default: the current directory)."""
    start = base or os.getcwd()
    return tuple(
        ConfigFile(Path(os.path.relpath(os.path.abspath(file), start)).as_posix(), digest)
        for file, digest in desired.file_digests.items()
    )


def accept_saved_plan(
    plan: Plan,
    state: StateDocument,
    desired: Desired,
    files_now: tuple[ConfigFile, ...],
    path: str,
) -> None:
    """A saved plan applies only to the state and config it was computed against.

    ``files_now`` are the config files read now, relative to where plan ran. A state that
    does not exist yet takes the lineage of the plan made against it, so the first apply
    of a saved plan works and a second one is refused as stale. No provider call: live
    values are checked by ``check_live_values`` once this passes.
    """
    if state.serial == 0 and plan.serial == 0 and plan.lineage:
        state.lineage = plan.lineage
    reasons = []
    if plan.lineage != state.lineage:
        reasons.append(
            f"the state's lineage is {state.lineage}, the plan was made for {plan.lineage}"
        )
    elif plan.serial != state.serial:
        reasons.append(
            f"the state moved from serial {plan.serial} to {state.serial} since the plan was made"
        )
    if plan.config_files:
        reasons.extend(_files_changed(plan.config_files, files_now))
    elif plan.config_digest != desired.digest:
        reasons.append("the config changed since the plan was made")
    if reasons:
        raise PlanError(f"the saved plan {path} is stale: {'; '.join(reasons)}. Run plan again.")
    _refuse_foreign_changes(plan, state, desired, path)


def check_live_values(plan: Plan, path: str, read_live: Callable[[], Live]) -> None:
    """Refuse a plan whose live values moved since it was made (read again by ``read_live``).

    A plan made with ``--no-refresh`` read nothing, so there is nothing to compare.
    """
    if not plan.refreshed:
        return
    moved = _moved(plan.live, read_live().to_json())
    if moved:
        raise PlanError(f"the saved plan {path} is stale: {'; '.join(moved)}. Run plan again.")


def _files_changed(then: tuple[ConfigFile, ...], now: tuple[ConfigFile, ...]) -> list[str]:
    """Which config files differ from those the plan was made from, each named."""
    before = {f.path: f.sha256 for f in then}
    after = {f.path: f.sha256 for f in now}
    named = [f"{p} was edited" for p in before if p in after and after[p] != before[p]]
    named += [f"{p} is not read now" for p in before if p not in after]
    named += [f"{p} was not read by the plan" for p in after if p not in before]
    if not named:
        return []
    return [f"the config changed since the plan was made ({', '.join(named)})"]


def _refuse_foreign_changes(plan: Plan, state: StateDocument, desired: Desired, path: str) -> None:
    """Apply only what this config and state produce: a saved plan is a file anyone can edit.

    The planner is pure, so planning again at the saved plan's time must give every change
    it holds (a ``--target`` plan holds fewer). An edited delete of a protected account, or
    an ``after`` the config never asked for, is refused before any provider call.
    """
    try:
        made_at = datetime.fromisoformat(plan.created_at.replace("Z", "+00:00"))
    except ValueError:
        made_at = None
    if made_at is None or made_at.tzinfo is None:
        raise PlanError(f"the saved plan {path} has no valid created_at time. Run plan again.")
    money = plan.money.read if plan.money else None
    live = live_from_json(plan.live, plan.refreshed, path, money)
    fresh = make_plan(
        desired, state.records(), made_at, live=live, lineage=state.lineage, serial=state.serial
    )
    expected = {_identity(change) for change in fresh.changes}
    foreign = [change for change in plan.changes if _identity(change) not in expected]
    if foreign:
        listed = ", ".join(f"{c.action.value} {c.address}" for c in foreign)
        raise PlanError(
            f"the saved plan {path} holds changes that this config and state do not produce "
            f"({listed}): it was edited, or made by another version. Run plan again."
        )


def _moved(saved: Mapping[str, dict[str, Any]], now: Mapping[str, dict[str, Any]]) -> list[str]:
    """How the live values moved since the plan read them, address by address."""
    moved = []
    for address in sorted(set(saved) | set(now)):
        before, after = saved.get(address), now.get(address)
        if before is None:
            moved.append(f"{address} was not read when the plan was made")
        elif after is None:
            moved.append(f"{address} is no longer read")
        elif before != after:
            money = kind_of(address).money_attributes
            what = "; ".join(changed_attributes(before, after, money))
            moved.append(f"the live value of {address} moved since the plan was made ({what})")
    return moved


def _identity(change: Change) -> str:
    return json.dumps(
        [change.address, change.action.value, change.before, change.after], sort_keys=True
    )
