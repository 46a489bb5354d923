"""Text columns that line up in a terminal, whatever the script of the names in them.

A Chinese name such as ``数据分析`` takes two terminal columns per character; padding by
``len`` would push every column after it out of line. Used by the renderers of
``usage`` and ``check`` (tables meant to fit 80 columns).
"""

from __future__ import annotations

import unicodedata


def width(text: str) -> int:
    """Terminal columns ``text`` takes: wide and full-width characters count twice."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def cut(text: str, columns: int) -> str:
    """``text`` in at most ``columns`` columns, ending in an ellipsis when cut."""
    if width(text) <= columns:
        return text
    out, used = [], 0
    for char in text:
        used += width(char)
        if used > columns - 1:
            break
        out.append(char)
    return "".join(out) + "…"


def pad(text: str, columns: int) -> str:
    """One line of ``text`` cut to ``columns`` and padded to exactly that many."""
    text = cut(" ".join(text.split()), columns)  # a line break in a name must not break a table
    return text + " " * (columns - width(text))
