"""What ``usage`` and ``check`` do with a workspace: read the state, call providers, report.

Both read the state only to know which spenders it manages (under the shared lock, as
``plan`` does, so they never see an apply's half-written state) and then read money
through one ``ProviderPool``, closed at the end. They change nothing anywhere.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from reconciler.billing.rails import KnownSpenders
from reconciler.billing.read import read_money
from reconciler.billing.report import MoneyReport, make_report
from reconciler.billing.usage import UsageReport, build_usage
from reconciler.providers.pool import ProviderPool
from reconciler.resources import known_spenders

if TYPE_CHECKING:
    from reconciler.workspace import Workspace


def usage_report(
    workspace: Workspace, span: tuple[date, date], by: str, now: datetime
) -> UsageReport:
    """``reconciler usage``: every section's spend over ``span`` and its credit now."""
    credentials = workspace.credentials()
    known = _known(workspace, "usage")
    pool = ProviderPool(workspace.config, credentials)
    try:
        return build_usage(workspace.config, pool, known, span, by, now)
    finally:
        pool.close()


def judge_money(workspace: Workspace, now: datetime) -> MoneyReport:
    """``reconciler check``: the money read now, every guard rail judged on it."""
    credentials = workspace.credentials()
    known = _known(workspace, "check")
    pool = ProviderPool(workspace.config, credentials)
    try:
        money = read_money(workspace.config, pool, now)
    finally:
        pool.close()
    report, _ = make_report(workspace.config, money, known)
    return report


def _known(workspace: Workspace, operation: str) -> KnownSpenders:
    backend = workspace.backend
    with backend.lock(operation, shared=True):
        return known_spenders(backend.read().records())
