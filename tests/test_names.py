"""Names that read alike: one identity per text (NFC), warnings for look-alikes and mixed scripts."""

from __future__ import annotations

import json
import unicodedata

from reconciler.names import identity, look_alikes, mixed_scripts

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
