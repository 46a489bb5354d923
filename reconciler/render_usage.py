"""A ``UsageReport`` as a table (80 columns), CSV (spreadsheets) or JSON (scripts).

The table is for a terminal: one block per config section, names padded by their display
width (a Chinese name takes two columns per character) and cut with an ellipsis rather
than pushing the columns past 80. CSV has one row per figure with the same columns
throughout, so a spreadsheet can filter and sum; JSON keeps the report's structure.
Amounts are exact decimal strings in CSV and JSON, never floats.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from reconciler.billing.figures import exact, show
from reconciler.billing.usage import UsageReport, UsageSection
from reconciler.columns import cut, pad

KEY_WIDTH, ROLE_WIDTH, AMOUNT_WIDTH, TOKENS_WIDTH = 30, 13, 17, 12
_PROVIDER = {"minimax": "MiniMax", "xai": "xAI", "useapi": "useapi.net"}
CSV_COLUMNS = ("provider", "section", "metric", "key", "role", "amount", "unit", "tokens")


def render_table(report: UsageReport) -> str:
    lines = [f"Usage {report.first.isoformat()} .. {report.last.isoformat()}, by {report.by}"]
    if not report.sections:
        lines.append("The config has no MiniMax group, xAI team or useapi.net section to report.")
    for section in report.sections:
        lines += ["", *_block(section, report.by)]
    return "\n".join(lines) + "\n"


def _block(section: UsageSection, by: str) -> list[str]:
    title = f"{_PROVIDER[section.provider]} {section.section} ({section.identity})"
    lines = [cut(title, 80)]
    if section.provider != "useapi":
        lines.append(
            _line(
                by,
                "role" if section.provider == "minimax" and by == "account" else "",
                section.unit,
                "tokens" if section.tokens is not None else "",
            )
        )
        for row in section.rows:
            lines.append(
                _line(row.key, row.role, show(row.amount, section.unit), _count(row.tokens))
            )
        if not section.rows:
            lines.append("  (no spend in this range)")
        lines.append(_line("total", "", show(section.total, section.unit), _count(section.tokens)))
    for fact in section.facts:
        lines.append(_line(fact.label, "", show(fact.amount, fact.unit), ""))
    lines.extend(f"  {note}" for note in section.notes)
    return lines


def _line(key: str, role: str, amount: str, tokens: str) -> str:
    if not role and not tokens:  # a label with its figure: the label may use the role column
        text = f"  {pad(key, KEY_WIDTH + ROLE_WIDTH + 2)}  {amount.rjust(AMOUNT_WIDTH)}"
    else:
        text = (
            f"  {pad(key, KEY_WIDTH)}  {pad(role, ROLE_WIDTH)}  {amount.rjust(AMOUNT_WIDTH)}"
            f"  {tokens.rjust(TOKENS_WIDTH)}"
        )
    return text.rstrip()


def _count(tokens: int | None) -> str:
    return "" if tokens is None else f"{tokens:,}"


def render_csv(report: UsageReport) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for s in report.sections:
        for row in s.rows:
            writer.writerow(
                (
                    s.provider,
                    s.section,
                    f"spend_by_{report.by}",
                    row.key,
                    row.role,
                    exact(row.amount, s.unit),
                    s.unit,
                    _tokens(row.tokens),
                )
            )
        if s.total is not None:
            writer.writerow(
                (
                    s.provider,
                    s.section,
                    "total",
                    "",
                    "",
                    exact(s.total, s.unit),
                    s.unit,
                    _tokens(s.tokens),
                )
            )
        for fact in s.facts:
            amount = "" if fact.amount is None else exact(fact.amount, fact.unit)
            writer.writerow(
                (s.provider, s.section, fact.metric, fact.label, "", amount, fact.unit, "")
            )
    return buffer.getvalue()


def _tokens(tokens: int | None) -> str:
    return "" if tokens is None else str(tokens)


def render_json(report: UsageReport) -> str:
    document = {
        "from": report.first.isoformat(),
        "to": report.last.isoformat(),
        "by": report.by,
        "sections": [_section_json(section) for section in report.sections],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _section_json(s: UsageSection) -> dict[str, Any]:
    def amount(value: Any, unit: str = s.unit) -> str | None:
        return None if value is None else exact(value, unit)

    return {
        "provider": s.provider,
        "section": s.section,
        "identity": s.identity,
        "unit": s.unit,
        "rows": [
            {
                "key": r.key,
                "role": r.role or None,
                "amount": exact(r.amount, s.unit),
                "tokens": r.tokens,
            }
            for r in s.rows
        ],
        "total": amount(s.total),
        "tokens": s.tokens,
        "facts": [
            {
                "metric": f.metric,
                "label": f.label,
                "amount": amount(f.amount, f.unit),
                "unit": f.unit,
            }
            for f in s.facts
        ],
        "notes": list(s.notes),
    }


USAGE_RENDERERS = {"table": render_table, "csv": render_csv, "json": render_json}
