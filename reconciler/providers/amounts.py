"""One rule for an amount on the wire (money, credits): what reconciler can add up exactly.

Providers send amounts as JSON numbers (read as ``Decimal`` or ``int``, never float) or as
decimal strings. An amount must be finite and fit what any bill could hold: at most 15
digits before the point and 20 after. A hostile or broken answer's ``1e999999999`` would
otherwise overflow the first sum or ``abs()`` it meets and crash the plan. Anything else is
not an amount: ``None``, and each reader says so in its own words.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

_WHOLE, _FRACTION = 15, 20
_TEXT = re.compile(rf"[-+]?[0-9]{{1,{_WHOLE}}}(\.[0-9]{{1,{_FRACTION}}})?")


def wire_amount(value: Any) -> Decimal | None:
    """``value`` as an exact amount, or None when it is not one reconciler reads."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        value = Decimal(value)
    elif isinstance(value, str):
        text = value.strip()
        if not _TEXT.fullmatch(text):
            return None
        value = Decimal(text)
    if not isinstance(value, Decimal) or not value.is_finite():
        return None
    digits, exponent = value.as_tuple()[1:]
    assert isinstance(exponent, int), "a finite Decimal has a whole exponent"
    if exponent < -_FRACTION or len(digits) + exponent > _WHOLE:
        return None
    return value
