"""Reading money from the providers: the I/O half of the refresh stage's money figures.

For every section of the config: a MiniMax group's bills from the start of the month
(or 30 days back, whichever is earlier) to today, summed per spender; an xAI team's
limits, invoice preview and prepaid credit; the credits of each useapi.net account a
check names (or of the token's only account). Each read goes through the shared
``ProviderPool`` and the one HTTP policy; a provider error ends the read, and with it
the plan or check, in one line. The MiniMax bills read doubles as that group's access
check: a wrong key fails the pull request, not the merge.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from reconciler.billing.figures import AccountCredits, GroupSpend, Money, TeamMoney
from reconciler.billing.spend import spend_by_spender
from reconciler.model import Desired, UseapiAccount

if TYPE_CHECKING:
    from reconciler.providers.pool import ProviderPool

SOON = timedelta(days=7)  # credits that lapse within this are called out
WINDOW = timedelta(days=29)  # today and the 29 days before: "the last 30 days"


def money_credentials(config: Desired) -> list[str]:
    """The env variables reading every section's money needs, in config order."""
    return [
        *(group.api_key_env for group in config.minimax.values()),
        *(team.management_key_env for team in config.xai.values()),
        *(section.token_env for section in config.useapi.values()),
    ]


def read_money(config: Desired, providers: ProviderPool, now: datetime) -> Money:
    """Every section's money as of ``now`` (UTC)."""
    from reconciler.providers.minimax import MINIMAX
    from reconciler.providers.xai import XAI

    today = now.date()
    month_start = today.replace(day=1)
    window_start = today - WINDOW
    groups = {}
    for alias, group in config.minimax.items():
        rows = providers.get(MINIMAX, alias).bills(min(month_start, window_start), today)
        groups[alias] = GroupSpend(
            group.group_id, spend_by_spender(rows, month_start, window_start)
        )
    teams = {}
    for alias, team in config.xai.items():
        client = providers.get(XAI, alias)
        limits = client.spending_limits()
        preview = client.invoice_preview()
        teams[alias] = TeamMoney(
            team.team_id, preview.amount, client.prepaid_credit(), limits.soft, limits.hard
        )
    useapi = {
        alias: _credits(alias, section, providers, now) for alias, section in config.useapi.items()
    }
    return Money(today, groups, teams, useapi)


def checked_accounts(section: UseapiAccount) -> list[str | None]:
    """The accounts a useapi section's checks name, each once; None is the only account."""
    return list(dict.fromkeys(check.account for check in section.checks)) or [None]


def _credits(
    alias: str, section: UseapiAccount, providers: ProviderPool, now: datetime
) -> tuple[AccountCredits, ...]:
    from reconciler.providers.useapi import USEAPI

    client = providers.get(USEAPI, alias)
    read = []
    for account in checked_accounts(section):
        credits = client.credits(account)
        soon = credits.expiring_within(now, now + SOON)
        read.append(AccountCredits(account, credits.total, soon))
    return tuple(read)
