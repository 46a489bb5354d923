"""Money in a sub-account's diff: budgets that disable, spend shown beside each change.

The sub-account kind (``minimax_sub_account``) asks this module, for an account it
diffs, which status the account should have once its budget is counted, why, and what
to show and warn about. The month-to-date spend comes from the refresh's bills read
(``DiffContext.money``): over an ``on_exceed: disable`` budget the wanted status is
``disabled`` (reason ``over budget: 4.25 > 4.00 this month``), over a ``warn`` budget
the plan warns; back within budget (a new month) the configured status returns. Without
a read (``--no-refresh``) an account its budget may have disabled is left disabled.
Deleting or disabling an account that spent in the last 30 days is warned about.
"""

from __future__ import annotations

from typing import Any

from reconciler.billing.figures import Spend, plain
from reconciler.billing.rails import budget_reason, over_budget
from reconciler.model import DesiredSubAccount, RecordedSubAccount, Status
from reconciler.resources.base import Diff, DiffContext


def spend_of(alias: str, name: str, context: DiffContext) -> Spend | None:
    """The account's spend as read by the refresh; None when bills were not read."""
    return context.money.spend(alias, name) if context.money is not None else None


def wanted_status(
    account: DesiredSubAccount,
    record: RecordedSubAccount,
    spend: Spend | None,
    diff: Diff,
) -> tuple[Status, str | None]:
    """The status to plan for, and a reason when the budget (not the config) decides it."""
    budget = account.budget
    if budget is None or account.status is Status.DISABLED:
        return account.status, None
    if spend is None:
        if budget.on_exceed == "disable" and record.status is Status.DISABLED:
            diff.warnings.append(
                f"{account.address}: disabled, and its budget may be why; no bills were read "
                "(--no-refresh), so it is not re-enabled: plan with a refresh to check its budget"
            )
            return Status.DISABLED, None
        return account.status, None
    if not over_budget(budget, spend.month):
        return account.status, None
    if budget.on_exceed == "disable":
        return Status.DISABLED, budget_reason(budget, spend.month)
    diff.warnings.append(
        f"{account.address}: {budget_reason(budget, spend.month)} (on_exceed: warn, so it stays "
        f"{account.status.value})"
    )
    return account.status, None


def status_reason(
    account: DesiredSubAccount, record: RecordedSubAccount, wanted: Status, spend: Spend | None
) -> str:
    """Why the status changes, when the config's own status is not the whole story."""
    before = record.status.value if record.status else "(unknown)"
    reason = f"status {before} -> {wanted.value}"
    budget = account.budget
    if (
        budget
        and spend is not None
        and wanted is Status.ENABLED
        and record.status is Status.DISABLED
    ):
        reason += (
            f" (within its budget this month: {plain(spend.month)} of {plain(budget.monthly_cash)})"
        )
    return reason


def details(
    account: DesiredSubAccount | None, spend: Spend | None, *, gone: bool = False
) -> dict[str, Any] | None:
    """Read-only figures shown beside a change of an existing account."""
    if spend is None:
        return None
    shown: dict[str, Any] = {"month_spend": plain(spend.month)}
    if account is not None and account.budget is not None:
        shown["budget"] = plain(account.budget.monthly_cash)
    if gone:
        shown["last_30_days"] = plain(spend.last_30_days)
    return shown


def warn_recent_spend(address: str, spend: Spend | None, doing: str, diff: Diff) -> None:
    """Deleting or disabling an account that spent lately cuts off whoever uses its token."""
    if spend is not None and spend.last_30_days > 0:
        diff.warnings.append(
            f"{address} spent {plain(spend.last_30_days)} in the last 30 days: {doing} it cuts "
            "off whatever still uses its token"
        )
