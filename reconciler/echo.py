"""What of a user's own text a message may show: one rule for every config message.

A config holds the *names* of the variables that hold keys, never keys; but people paste
keys into the wrong field, and an error that quotes its value would then print the key on
a CI log or a pull-request comment. So every message about a config value goes through
here, with two cases:

* a **value** (a status, a duration, an amount, an id, a version) is shown only when it is
  at most ``VALUE_SHOWN_MAX`` characters long: no setting is longer, and hardly a key is
  that short. A longer value is described by its length;
* a **name** (a sub-account name, a mapping key or alias, a host) is shown, up to
  ``NAME_SHOWN_MAX`` characters (``KEY_SHOWN_MAX`` for a mapping key: no alias or config
  key is longer), where it is what the message is about, unless it looks like a key
  (``likely_secret``).

Shown text is escaped (``\\u00ad``): an invisible character must not hide in a message.
"""

from __future__ import annotations

import re

from reconciler.names import refused_characters

VALUE_SHOWN_MAX = 24  # a GroupId has 19 digits; an API key 32 and more
NAME_SHOWN_MAX = 128  # the longest sub-account name
KEY_SHOWN_MAX = 40  # the longest alias; every config key is shorter
# Keys are long runs of letters and digits; a name a person chose breaks its words up.
_KEY_LIKE_RUN = re.compile(r"[A-Za-z0-9]{24,}")


def fits(text: str) -> bool:
    """Whether a value this long may be shown (as written, by the caller)."""
    return len(text) <= VALUE_SHOWN_MAX


def shown_value(text: str) -> str:
    """A value, quoted, or its length when it is too long to be anything but a paste."""
    if fits(text):
        return escaped(text)
    return f"the value ({len(text)} characters, not shown: it may be a pasted secret)"


def shown_plain(text: str) -> str:
    """A value as written in YAML (``no``, ``1.5``), unquoted, under the same rule."""
    return text if fits(text) and text.isprintable() else shown_value(text)


def shown_name(text: str, what: str = "name", longest: int = NAME_SHOWN_MAX) -> str:
    """A name that a message is about, quoted, unless it is too long or looks like a key."""
    if len(text) <= longest and not likely_secret(text):
        return escaped(text)
    return f"a {what} ({len(text)} characters, not shown: it may be a pasted secret)"


def likely_secret(text: str) -> bool:
    """Whether ``text`` holds what keys and tokens are made of: 24 letters and digits in a
    row, digits among them (a JWT, ``xai-...``, a hex token; not ``supercalifragilistic``)."""
    return any(any(c.isdigit() for c in run) for run in _KEY_LIKE_RUN.findall(text))


def escaped(text: str) -> str:
    """``text`` quoted as Python's ``repr`` does, with every character a reader cannot see
    escaped: ``repr`` escapes controls and formatting characters, but not the letters that
    render blank (U+3164 HANGUL FILLER) nor private-use ones."""
    shown = repr(text)
    for char in {r.char for r in refused_characters(text) if r.char.isprintable()}:
        shown = shown.replace(char, _code(char))
    return shown


def _code(char: str) -> str:
    point = ord(char)
    return f"\\u{point:04x}" if point <= 0xFFFF else f"\\U{point:08x}"
