"""The error family: every failure a user can cause or meet is one of these.

Errors are values with a message for a person. The CLI prints ``str(error)`` and exits 1;
tracebacks appear only with ``--debug``. The tree::

    ReconcilerError
    ├── ConfigError        bad YAML, schema or semantic rule; carries every reason with file:line
    ├── CredentialsError   env variables the config needs are unset or empty
    ├── StateError         unreadable or inconsistent state file
    │   └── LockError      the state lock is held by someone else
    ├── SecretsError       no key, bad key, undecryptable store, secrets command failed
    ├── PlanError          the plan cannot be made (prevent_destroy, stale saved plan, bad target)
    └── ProviderError      a provider refused or failed; carries code, message and trace id
"""

from __future__ import annotations

from dataclasses import dataclass


class ReconcilerError(Exception):
    """Root of every error the CLI turns into a message and exit code 1."""


@dataclass(frozen=True)
class ConfigIssue:
    """One reason a config is invalid, located at ``file:line``."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(ReconcilerError):
    """The config is invalid; lists every reason found, not just the first.

    The message stops at ``SHOWN_ISSUES``: a config broken everywhere (a mistake in a
    block that aliases repeat) would otherwise print tens of thousands of lines.
    ``issues`` keeps them all.
    """

    SHOWN_ISSUES = 200

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = sorted(issues, key=lambda i: (i.file, i.line or 0, i.path))
        shown = [str(i) for i in self.issues[: self.SHOWN_ISSUES]]
        hidden = len(self.issues) - len(shown)
        if hidden > 0:
            shown.append(f"... and {hidden} more issues; fix these and run again")
        super().__init__("\n".join(shown))


class CredentialsError(ReconcilerError):
    """Environment variables named by the config are unset or empty."""


class StateError(ReconcilerError):
    """The state file cannot be read, written or trusted."""


class LockError(StateError):
    """Another process holds the state lock."""


class SecretsError(ReconcilerError):
    """The secrets store or the secrets command cannot do what was asked."""


class PlanError(ReconcilerError):
    """A plan cannot be made or applied as asked."""


class ProviderError(ReconcilerError):
    """A provider call failed; says which call, the provider's code and message, trace id.

    ``retryable`` tells the HTTP policy whether trying again may succeed; ``answer_lost``
    marks failures where the request may have been executed but its answer never arrived.
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        trace_id: str | None = None,
        retryable: bool = False,
        answer_lost: bool = False,
        retry_after: float | None = None,
    ) -> None:
        self.code = code
        self.trace_id = trace_id
        self.retryable = retryable
        self.answer_lost = answer_lost
        self.retry_after = retry_after
        suffix = f" (Trace-Id {trace_id})" if trace_id else ""
        super().__init__(message + suffix)


def describe_bug(exc: BaseException) -> str:
    """A bug, named without its message: ``KeyError in reconciler/planner.py:88``.

    An unexpected exception's text may quote whatever it was handling (a token in a
    ``UnicodeEncodeError``, a key in a header error), so only its type and where it was
    raised in reconciler's own code are shown; ``--debug`` shows the rest.
    """
    import traceback
    from pathlib import Path

    package = Path(__file__).resolve().parent
    where = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        path = Path(frame.filename).resolve()
        if path.is_relative_to(package):
            where = f" in reconciler/{path.relative_to(package).as_posix()}:{frame.lineno}"
    return f"{type(exc).__name__}{where}"
