"""Names people read in plans: one identity per text, and a warning for look-alikes.

``café`` can be written with one code point for ``é`` (NFC) or two (NFD); both read the
same, so they must be the same sub-account: identity is the NFC form, everywhere an
address is built or read back. Other names only *look* alike: ``ci-bot`` written with a
Cyrillic es (U+0441) for the c is another name, which a reviewer cannot tell apart in a
pull request. Those are allowed (MiniMax accepts any Unicode) but warned about: a name
that mixes Latin, Cyrillic or Greek letters, and two names of a group whose skeletons are
equal (compatibility forms folded, look-alike letters to their Latin twins, dashes and
spaces to ASCII, joiners and variation selectors dropped).

Some characters show nothing at all, or a blank: ``refused_characters`` finds them (the
config refuses such a name, at its ``file:line``), so ``ci-bot`` with a soft hyphen, a
variation selector or a Hangul filler inside cannot pass for ``ci-bot``. Joiners inside
emoji and words (Persian needs them) and an emoji's presentation selector stay allowed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import NamedTuple

# Scripts whose letters are easily taken for one another (Han or Hangul next to Latin
# letters, as in "数据ai", is ordinary and not warned about).
_CONFUSABLE_SCRIPTS = frozenset({"LATIN", "CYRILLIC", "GREEK"})

# Cyrillic and Greek letters that render like a Latin one (lower and upper case).
_LOOKALIKES = str.maketrans(
    {
        **dict(zip("аеорсухіјѕԁԛԝһӏ", "aeopcyxijsdqwhl", strict=True)),
        **dict(zip("АВЕКМНОРСТУХІЈЅ", "ABEKMHOPCTYXIJS", strict=True)),
        **dict(zip("οαρνιτκυχ", "oapvitkux", strict=True)),
        **dict(zip("ΑΒΕΗΙΚΜΝΟΡΤΥΧΖ", "ABEHIKMNOPTYXZ", strict=True)),
    }
)


# Dashes that render like '-' (hyphen, non-breaking hyphen, figure dash, en and em dash,
# horizontal bar, minus sign), and the joiners and selectors that render as nothing.
_FOLDED = str.maketrans(
    {**dict.fromkeys(map(chr, [*range(0x2010, 0x2016), 0x2212]), "-"), "\u200c": "", "\u200d": ""}
)
_ZERO_WIDTH_JOINERS = frozenset("\u200c\u200d")  # ZWNJ, ZWJ: spelling in Persian, emoji
_PRESENTATION_SELECTORS = frozenset("\ufe0e\ufe0f")  # text or emoji style of a symbol
_KEYCAP = "\u20e3"  # 1️⃣ is '1', U+FE0F, U+20E3
# Default_Ignorable_Code_Point (Unicode DerivedCoreProperties): shown as nothing.
_DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)
# Letters and symbols that render as a blank the width of a character.
_BLANK_FILLERS = frozenset("\u115f\u1160\u2800\u3164\uffa0")
# What ``str.isprintable`` lets through that may be refused: ignorable marks and fillers.
_PRINTABLE_SUSPECTS = re.compile(
    "["
    + "".join(f"{chr(low)}-{chr(high)}" for low, high in _DEFAULT_IGNORABLE)
    + "".join(_BLANK_FILLERS)
    + "]"
)


class RefusedCharacter(NamedTuple):
    """A character a name may not hold: where it is, which, and why (for the message)."""

    position: int  # 0-based
    char: str
    kind: str  # "a control character", "a blank-looking filler", ...

    @property
    def label(self) -> str:
        """``U+00AD SOFT HYPHEN``."""
        name = unicodedata.name(self.char, "")
        return f"U+{ord(self.char):04X}" + (f" {name}" if name else "")


def refused_characters(name: str) -> list[RefusedCharacter]:
    """Every character of ``name`` that shows as nothing, a blank or another character.

    Controls; formatting and other default-ignorable characters (soft hyphen, zero-width
    space, direction marks, variation selectors, tags); blank-looking fillers; private-use
    characters and lone surrogates; spaces other than the ASCII space. Allowed: a joiner
    (ZWJ, ZWNJ) between two non-ASCII letters, marks or symbols, and U+FE0E/U+FE0F after a
    non-ASCII symbol or in a keycap.
    """
    if name.isprintable() and not _PRINTABLE_SUSPECTS.search(name):
        return []  # the common case, fast: no Other or Separator, no ignorable mark or filler
    found = []
    for position, char in enumerate(name):
        kind = _refusal(char)
        if kind is not None and not _allowed_in_context(name, position):
            found.append(RefusedCharacter(position, char, kind))
    return found


def _refusal(char: str) -> str | None:
    category = unicodedata.category(char)
    if category == "Cc":
        return "a control character"
    if char in _BLANK_FILLERS:
        return "a blank-looking filler"
    if category == "Co":
        return "a private-use character"
    if category == "Zs" and char != " ":
        return "a space other than the ASCII space"
    if category == "Cs":
        return "half of a character (a lone surrogate)"
    if category in ("Cf", "Zl", "Zp") or _default_ignorable(char):
        return "an invisible formatting character"
    return None


def _default_ignorable(char: str) -> bool:
    point = ord(char)
    return any(low <= point <= high for low, high in _DEFAULT_IGNORABLE)


def _allowed_in_context(name: str, position: int) -> bool:
    """A joiner inside a word or emoji, or a presentation selector after a symbol."""
    char = name[position]
    before = name[position - 1] if position else ""
    after = name[position + 1] if position + 1 < len(name) else ""
    if char in _ZERO_WIDTH_JOINERS:
        return _joinable(before) and _joinable(after)
    if char in _PRESENTATION_SELECTORS:
        keycap = after == _KEYCAP and len(before) == 1 and before in "0123456789#*"
        return keycap or (bool(before) and not before.isascii() and _symbol(before))
    return False


def _joinable(char: str) -> bool:
    """Letters, marks and symbols of a script or emoji that joiners act on (not ASCII)."""
    return bool(char) and not char.isascii() and unicodedata.category(char)[0] in "LMS"


def _symbol(char: str) -> bool:
    """Emoji bases are symbols (❤), punctuation (‼) or, for U+2139, a letter-like symbol."""
    return unicodedata.category(char)[0] in "SP" or char == "\u2139"


def identity(name: str) -> str:
    """The form a name is compared and recorded in: Unicode NFC."""
    return name if unicodedata.is_normalized("NFC", name) else unicodedata.normalize("NFC", name)


def mixed_scripts(name: str) -> list[str]:
    """The easily confused scripts a name mixes (``["CYRILLIC", "LATIN"]``), or ``[]``."""
    if name.isascii():
        return []  # ASCII letters are all Latin (the common case, at 10,000 names a plan)
    scripts = {_script(char) for char in name if char.isalpha()}
    mixed = sorted(scripts & _CONFUSABLE_SCRIPTS)
    return mixed if len(mixed) > 1 else []


def skeleton(name: str) -> str:
    """What a name looks like: compatibility forms folded (full-width letters, ligatures,
    no-break spaces), look-alike letters to their Latin twins, dashes and spaces to ASCII,
    and joiners and variation selectors dropped."""
    if name.isascii():
        return name  # nothing in ASCII folds, looks like another letter, or is a selector
    folded = unicodedata.normalize("NFKC", name).translate(_LOOKALIKES).translate(_FOLDED)
    return "".join(
        " " if unicodedata.category(c) == "Zs" else c for c in folded if not _selector(c)
    )


def _selector(char: str) -> bool:
    point = ord(char)
    return 0xFE00 <= point <= 0xFE0F or 0xE0100 <= point <= 0xE01EF


def look_alikes(names: Iterable[str]) -> list[tuple[str, str]]:
    """Pairs of different names that look the same (first seen, then the other)."""
    seen: dict[str, str] = {}
    pairs = []
    for name in names:
        first = seen.setdefault(skeleton(name), name)
        if first != name:
            pairs.append((first, name))
    return pairs


def _script(char: str) -> str:
    """The script of a letter, from its Unicode name (``CYRILLIC SMALL LETTER ES``)."""
    return unicodedata.name(char, "UNKNOWN").split(" ", 1)[0]
