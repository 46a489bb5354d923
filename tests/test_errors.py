"""A bug is reported by its type and place, never by its message (which may quote a secret)."""

from __future__ import annotations

from reconciler.errors import describe_bug

TOKEN = "eyJhbGciOiJSUzI1NiJ9.secret-token-value"


def test_a_bug_is_named_by_type_and_place_in_reconciler_without_its_message() -> None:
    try:
        (TOKEN + "\ud800").encode()
    except UnicodeEncodeError as exc:
        described = describe_bug(exc)

    assert described == "UnicodeEncodeError"  # raised outside reconciler's own code
    assert TOKEN not in described


def test_the_place_is_the_innermost_frame_in_the_package() -> None:
    from reconciler.planner import make_plan

    try:
        make_plan(None, {}, None)  # type: ignore[arg-type]
    except AttributeError as exc:
        described = describe_bug(exc)

    assert described.startswith("AttributeError in reconciler/")
    assert described.rsplit(":", 1)[1].isdigit()
