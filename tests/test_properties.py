"""Property tests: whatever a file or a provider hands reconciler, it is read or refused
with reconciler's own error, never a crash, never with a secret in the message, and
what it accepts it can write back and read again.

Generators are in ``reconciler.testing.hostile`` and ``hostile_files``, the checks in
``reconciler.testing.checks``; each property runs a bounded number of examples so the
suite stays fast (the reliability report under ``benchmarks/`` runs many more).
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.testing import checks
from reconciler.testing.hostile import (
    bills_answer,
    config_text,
    create_answer,
    credits_answer,
    plan_document,
    rotate_answer,
    xai_limits_answer,
)
from reconciler.testing.hostile_files import (
    journal_file,
    journal_lines,
    secrets_file,
    state_bytes,
    state_file,
)

BOUNDED = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@BOUNDED
@given(config_text())
def test_any_config_text_is_loaded_or_refused_with_located_config_errors(text: str) -> None:
    checks.check_config(text)


VALID_PLAN = checks.valid_plan()
VALID_STORE, KEY_CHECK = checks.valid_store()
SEALED = VALID_STORE["secrets"]['minimax.cn-main.sub_account["new"]']


@BOUNDED
@given(plan_document(VALID_PLAN))
def test_any_saved_plan_file_is_read_or_refused_with_a_plan_error(data: bytes) -> None:
    checks.check_saved_plan(data)


@BOUNDED
@given(create_answer())
def test_any_create_answer_gives_an_account_that_is_recorded_and_sealed_or_a_provider_error(
    body: bytes,
) -> None:
    checks.check_create_answer(body)


@BOUNDED
@given(rotate_answer())
def test_any_rotation_answer_gives_a_token_that_is_sealed_or_a_provider_error(body: bytes) -> None:
    checks.check_rotate_answer(body)


@BOUNDED
@given(xai_limits_answer())
def test_any_xai_limits_answer_gives_exact_limits_or_a_provider_error(body: bytes) -> None:
    checks.check_xai_limits(body)


@BOUNDED
@given(state_file())
def test_any_state_file_is_read_or_refused_and_what_reads_writes_back(state: bytes) -> None:
    checks.check_state_files(state, None, None)


@BOUNDED
@given(secrets_file(VALID_STORE))
def test_any_secrets_store_is_opened_or_refused_and_every_value_opens_or_is_refused(
    store: bytes,
) -> None:
    checks.check_state_files(state_bytes(), store, None)


@BOUNDED
@given(journal_file(journal_lines(SEALED, KEY_CHECK)), st.booleans())
def test_any_journal_is_replayed_to_its_intact_prefix_or_refused(
    journal: bytes, with_store: bool
) -> None:
    store = checks.valid_store_bytes() if with_store else None
    checks.check_state_files(state_bytes(), store, journal)


def test_the_valid_journal_replays_whole() -> None:
    # The generators start from files that read: the properties above test the edits.
    from reconciler.state.journal import encode_line

    journal = b"".join(encode_line(e) for e in journal_lines(SEALED, KEY_CHECK))
    assert checks.check_state_files(state_bytes(), checks.valid_store_bytes(), journal)


@BOUNDED
@given(bills_answer())
def test_any_bills_answer_gives_rows_that_add_up_exactly_or_a_provider_error(body: bytes) -> None:
    checks.check_bills_answer(body)


@BOUNDED
@given(credits_answer())
def test_any_credits_answer_gives_exact_credits_or_a_provider_error(body: bytes) -> None:
    checks.check_credits_answer(body)
