"""Names people read in plans: one identity per text, and a warning for look-alikes.

``café`` can be written with one code point for ``é`` (NFC) or two (NFD); both read the
same, so they must be the same sub-account: identity is the NFC form, everywhere an
address is built or read back. Other names only *look* alike: ``ci-bot`` written with a
Cyrillic es (U+0441) for the c is another name, which a reviewer cannot tell apart in a
pull request. Those are allowed (MiniMax accepts any Unicode) but warned about: a name
that mixes Latin, Cyrillic or Greek letters, and two names of a group whose letters fold
to the same Latin skeleton.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

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


def identity(name: str) -> str:
    """The form a name is compared and recorded in: Unicode NFC."""
    return name if unicodedata.is_normalized("NFC", name) else unicodedata.normalize("NFC", name)


def mixed_scripts(name: str) -> list[str]:
    """The easily confused scripts a name mixes (``["CYRILLIC", "LATIN"]``), or ``[]``."""
    scripts = {_script(char) for char in name if char.isalpha()}
    mixed = sorted(scripts & _CONFUSABLE_SCRIPTS)
    return mixed if len(mixed) > 1 else []


def skeleton(name: str) -> str:
    """What a name looks like: look-alike letters folded to their Latin twins."""
    return identity(name).translate(_LOOKALIKES)


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
