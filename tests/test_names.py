"""Names that read alike: one identity per text (NFC), warnings for look-alikes and mixed
scripts, and no character that shows as nothing or a blank."""

from __future__ import annotations

import json
import unicodedata

import pytest

from reconciler.names import identity, look_alikes, mixed_scripts, refused_characters, skeleton

NFC = unicodedata.normalize("NFC", "café")
NFD = unicodedata.normalize("NFD", "café")
CYRILLIC_CI_BOT = "\u0441i-bot"  # Cyrillic es, then Latin


def test_nfc_and_nfd_spellings_are_one_identity() -> None:
    assert NFC != NFD
    assert identity(NFC) == identity(NFD) == NFC


def test_a_name_mixing_latin_and_cyrillic_is_named_as_such() -> None:
    assert mixed_scripts(CYRILLIC_CI_BOT) == ["CYRILLIC", "LATIN"]
    assert mixed_scripts("ci-bot") == []


def test_han_or_digits_beside_latin_are_ordinary() -> None:
    assert mixed_scripts("数据ai-2") == []
    assert mixed_scripts("Ελληνικά") == []


def test_look_alike_names_are_paired_and_case_is_not_a_look_alike() -> None:
    assert look_alikes(["ci-bot", CYRILLIC_CI_BOT, "CI-Bot", "other"]) == [
        ("ci-bot", CYRILLIC_CI_BOT)
    ]


def test_the_plan_warns_about_look_alikes_and_mixed_scripts_in_escaped_form(workdir) -> None:
    workdir.config(f"- name: ci-bot\n- name: {CYRILLIC_CI_BOT}\n")

    result = workdir.run("plan")

    assert result.code == 0, result.output
    assert "mixes Cyrillic and Latin letters" in result.stdout
    escaped = json.dumps(CYRILLIC_CI_BOT)
    assert f'"ci-bot" and {escaped} are different names that read the same' in result.stdout


def test_nfc_and_nfd_in_one_group_are_a_duplicate_name(workdir) -> None:
    workdir.config(f"- name: {NFC}\n- name: {NFD}\n")

    result = workdir.run("validate")

    assert result.code == 1
    assert "reconciler.yaml:9" in result.stderr and "duplicate sub-account name" in result.stderr
    assert "differ only in how their Unicode characters are composed" in result.stderr


def test_an_account_recorded_under_an_nfd_name_is_the_nfc_one_of_the_config(workdir) -> None:
    workdir.config(f"- name: {NFD}\n")
    assert workdir.run("apply", "--auto-approve").code == 0
    workdir.config(f"- name: {NFC}\n")

    assert workdir.run("plan", "--detailed-exitcode").code == 0
    target = 'minimax.cn-main.sub_account["caf' + "e\\u0301" + '"]'  # typed as NFD escapes
    assert workdir.run("state", "show", target).code == 0


def test_a_state_written_with_an_nfd_key_reads_back_under_the_nfc_address(workdir) -> None:
    workdir.config(f"- name: {NFC}\n")
    assert workdir.run("apply", "--auto-approve").code == 0
    state_file = workdir.path / "state" / "reconciler.json"
    state = json.loads(state_file.read_text(encoding="utf-8"))
    ((address, record),) = state["resources"].items()
    record["name"] = NFD
    state["resources"] = {address.replace(NFC, NFD): record}
    state_file.write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")

    result = workdir.run("plan", "--detailed-exitcode")
    assert result.code == 0, result.output
    assert workdir.run("state", "list").stdout.strip() == address


# -- characters that show as nothing or a blank are refused; look-alikes are warned about --

# Each reads as nothing, a blank or a space in a plan: the reviewer's reproductions.
INVISIBLE = {
    "\u180e": "an invisible formatting character",  # Mongolian vowel separator
    "\ufe0f": "an invisible formatting character",  # variation selector-16 after a letter
    "\u00ad": "an invisible formatting character",  # soft hyphen
    "\u034f": "an invisible formatting character",  # combining grapheme joiner
    "\U000e0067": "an invisible formatting character",  # a tag character
    "\u200d": "an invisible formatting character",  # a joiner between ASCII letters
    "\u3164": "a blank-looking filler",
    "\u115f": "a blank-looking filler",
    "\u1160": "a blank-looking filler",
    "\uffa0": "a blank-looking filler",
    "\u2800": "a blank-looking filler",  # braille pattern blank
    "\ue000": "a private-use character",
    "\u00a0": "a space other than the ASCII space",
    "\u3000": "a space other than the ASCII space",
    "\u0007": "a control character",
}


@pytest.mark.parametrize(("char", "kind"), INVISIBLE.items(), ids=lambda v: f"U+{ord(v[0]):04X}")
def test_a_character_that_shows_as_nothing_or_a_blank_is_found_and_named(
    char: str, kind: str
) -> None:
    (found,) = refused_characters(f"ci{char}bot")

    assert (found.position, found.char, found.kind) == (2, char, kind)
    assert found.label.startswith(f"U+{ord(char):04X}")


@pytest.mark.parametrize(
    "name",
    [
        "coder 👩\u200d💻",  # ZWJ inside an emoji sequence
        "🏳\ufe0f\u200d🌈",  # a selector, then a joiner, inside one emoji
        "می\u200cخواهم",  # ZWNJ inside a Persian word
        "❤\ufe0f team",  # the emoji presentation of a symbol
        "1\ufe0f\u20e3 first",  # a keycap
        "with space",
        "数据分析",
    ],
)
def test_joiners_inside_words_and_emoji_selectors_are_allowed(name: str) -> None:
    assert refused_characters(name) == []


@pytest.mark.parametrize("name", ["\u200dci", "ci\u200d", "ci\u200c\u200cbot", "\ufe0fci"])
def test_a_joiner_or_selector_outside_a_word_is_refused(name: str) -> None:
    assert refused_characters(name)


@pytest.mark.parametrize(
    "other",
    [
        "ci\u2010bot",  # hyphen
        "ci\u2011bot",  # non-breaking hyphen
        "ci\u2013bot",  # en dash
        "ci\u2014bot",  # em dash
        "ci\u2212bot",  # minus sign
        "\uff43\uff49\uff0d\uff42\uff4f\uff54",  # full-width ｃｉ－ｂｏｔ
    ],
)
def test_dashes_and_full_width_forms_are_look_alikes_of_ascii(other: str) -> None:
    assert look_alikes(["ci-bot", other]) == [("ci-bot", other)]


def test_spaces_and_emoji_selectors_fold_in_the_skeleton() -> None:
    assert skeleton("ci\u00a0bot") == skeleton("ci\u2003bot") == "ci bot"
    assert look_alikes(["❤ team", "❤\ufe0f team"]) == [("❤ team", "❤\ufe0f team")]


def test_every_invisible_character_is_refused_by_validate_at_its_line(workdir) -> None:
    names = "".join(f'- name: "ci\\U{ord(char):08x}bot"\n' for char in INVISIBLE)  # YAML escapes
    workdir.config(names)

    result = workdir.run("validate")

    assert result.code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.removeprefix("Error: ").splitlines()
    assert len(lines) == len(INVISIBLE)  # every issue at once, one per name
    for line_number, (line, char) in enumerate(zip(lines, INVISIBLE, strict=True), start=8):
        assert line.startswith(f"reconciler.yaml:{line_number}: minimax.cn-main.sub_accounts[")
        assert f"U+{ord(char):04X}" in line and char not in line


def test_the_plan_warns_about_a_name_written_with_a_unicode_hyphen(workdir) -> None:
    workdir.config("- name: ci-bot\n- name: ci\u2010bot\n")

    result = workdir.run("plan")

    assert result.code == 0, result.output
    assert '"ci-bot" and "ci\\u2010bot" are different names that read the same' in result.stdout


def test_ascii_names_take_the_fast_path_because_nothing_in_ascii_folds_or_mixes() -> None:
    from reconciler import names

    for point in range(128):
        char = chr(point)
        folded = unicodedata.normalize("NFKC", char)
        assert folded.translate(names._LOOKALIKES).translate(names._FOLDED) == char
        assert unicodedata.category(char) != "Zs" or char == " "
    assert skeleton("Ci-Bot 7") == "Ci-Bot 7" and mixed_scripts("ci-bot") == []
