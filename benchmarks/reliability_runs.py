"""The end-to-end half of the reliability report: kill -9 and provider faults.

Each run is a fresh sandbox (in this process) and a fresh repository; ``reconciler`` runs
in this process (``run_in_process``) except where a real process is killed. Every
command's output and every file left behind is kept for the census of secrets
(``Census``): no token, password or key the runs ever saw may appear in any of them.
"""

from __future__ import annotations

import random
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from reconciler.providers import http
from reconciler.providers.bounded import MAX_ANSWER_BYTES
from reconciler.sandbox import SANDBOX_MINIMAX_API_KEY, Sandbox
from reconciler.secrets import SecretStore, load_key
from reconciler.state import LocalBackend
from reconciler.testing.cli import Result
from reconciler.testing.crashes import (
    address,
    failures,
    kill_at_a_random_moment,
    unaccounted,
    whole_state_problem,
)
from reconciler.testing.workdir import GROUP, Workdir, sandbox_env

# In-process runs wait little between retries, and a call gives up after 3 s (not 120 s),
# so a dripping answer costs seconds; what is retried and what is lost is the same.
POLICY = replace(http.DEFAULT_POLICY, base_delay=0.01, max_delay=0.05, deadline=3.0)

FAULTS: dict[str, dict[str, Any]] = {
    "latency 0.3 s": {"kind": "latency", "delay": 0.3},
    "HTTP 429, Retry-After 0.2 s": {"kind": "http_status", "retry_after": 0.2},
    "HTTP 500": {"kind": "http_status", "http_status": 500, "retry_after": None},
    "HTTP 502 after the call ran": {
        "kind": "http_status_after",
        "http_status": 502,
        "retry_after": None,
    },
    "MiniMax rate limit (code 1002)": {"kind": "base_resp", "code": 1002, "message": "rpm"},
    "connection dropped before": {"kind": "drop_before"},
    "connection dropped after the call ran": {"kind": "drop_after"},
    "malformed 200 answer": {"kind": "malformed"},
    "answer dripped a byte at a time": {"kind": "drip", "delay": 0.05},
    "answer over 16 MiB": {"kind": "oversize", "size": MAX_ANSWER_BYTES + 1},
}


@dataclass
class Census:
    """Every secret the runs saw, every text they printed or left in a file."""

    secrets: set[str] = field(default_factory=lambda: {SANDBOX_MINIMAX_API_KEY})
    texts: list[str] = field(default_factory=list)

    def saw(self, workdir: Workdir, result: Result | None = None) -> None:
        for account in workdir.sandbox.minimax_accounts(GROUP):
            self.secrets.update(account[name] for name in ("token", "password"))
        self.secrets.add(workdir.env["RECONCILER_SECRET_KEY"])
        if result is not None:
            self.texts.append(result.output)

    def keep_files(self, workdir: Workdir) -> None:
        for path in workdir.path.rglob("*"):
            if path.is_file():
                self.texts.append(path.read_bytes().decode("utf-8", "replace"))

    def leaks(self) -> int:
        found = re.compile("|".join(re.escape(s) for s in sorted(self.secrets) if s))
        return sum(len(found.findall(text)) for text in self.texts)

    def searched(self) -> int:
        return sum(len(text) for text in self.texts)

    def tracebacks(self) -> int:
        return sum("Traceback (most recent call last)" in text for text in self.texts)


@contextmanager
def repository(seed: int) -> Iterator[Workdir]:
    with Sandbox() as sandbox, tempfile.TemporaryDirectory() as directory:
        sandbox.seed_faults(seed)
        saved, http.DEFAULT_POLICY = http.DEFAULT_POLICY, POLICY
        try:
            yield Workdir(Path(directory), sandbox, sandbox_env())
        finally:
            http.DEFAULT_POLICY = saved


@dataclass
class KillRun:
    kills: int = 0
    survived: int = 0  # kills after which the state loaded, every account sealed before done
    twins: int = 0
    unaccounted: int = 0  # accounts neither recorded with their token nor named
    named: int = 0  # accounts named with their recovery (a lost answer)
    moments: list[str] = field(default_factory=list)


def kill_anywhere(kills: int, creates: int, seed: int, census: Census) -> KillRun:
    """kill -9 one apply of ``creates`` accounts ``kills`` times, then let one finish."""
    run, chance = KillRun(kills=kills), random.Random(seed)
    with repository(seed) as workdir:
        workdir.config("".join(f"- name: acct-{i:03d}\n" for i in range(creates)))
        workdir.sandbox.add_fault("POST", "/v1/sub_account", "latency", delay=0.02, times=None)
        for _ in range(kills):
            run.moments.append(kill_at_a_random_moment(workdir, chance, creates, census.texts))
            run.survived += _problem(workdir) is None
            census.saw(workdir)
        final = workdir.run("apply", "--auto-approve", "--parallelism", "16")
        census.saw(workdir, final)
        names = [a["account_name"] for a in workdir.sandbox.minimax_accounts(GROUP)]
        run.twins = len(names) - len(set(names))
        left, named = unaccounted(workdir, final.stdout)
        run.unaccounted, run.named = len(left) + creates - len(set(names)), len(named)
        census.keep_files(workdir)
    return run


def _problem(workdir: Workdir) -> str | None:
    try:
        return whole_state_problem(workdir)
    except Exception as exc:  # an unreadable state is what this counts
        return f"{type(exc).__name__}: {exc}"


@dataclass
class FaultRun:
    name: str
    applies: int = 0  # applies run with the fault on, until one left nothing to do
    named: int = 0  # accounts named for import (their create's answer was lost)
    unreadable: int = 0  # states or stores that did not load after an apply
    done: bool = False  # the last apply failed nothing
    converged: bool = False  # after the advice was followed: no change left, all as config
    tokens_kept: int = 0
    accounts: int = 0


def under_fault(name: str, fault: dict[str, Any], seed: int, census: Census) -> FaultRun:
    """Creates, rotations, disables and deletes with ``fault`` on 30 % of provider calls."""
    run = FaultRun(name)
    with repository(seed) as workdir:
        _accounts(workdir, [f"k{i}" for i in range(12)], census)
        wanted = {f"k{i}": 1 for i in range(8)} | {f"n{i}": 0 for i in range(12)}
        _write_config(workdir, wanted)
        workdir.sandbox.add_fault("*", r"/v1/.*", times=None, chance=0.3, **fault)
        named = _apply_until_done(workdir, run, census, rounds=5)
        workdir.sandbox.clear_faults()
        for _ in range(3):  # faults off: as the advice says, and apply again
            if not named and run.done:
                break
            run.named += len(named)
            _recover(workdir, named, wanted, census)
            named = _apply_until_done(workdir, run, census, rounds=3)
        run.converged = _converged(workdir, wanted, census)
        run.accounts, run.tokens_kept = len(wanted), _tokens_kept(workdir, wanted)
        census.keep_files(workdir)
    return run


def _recover(workdir: Workdir, named: set[str], wanted: dict[str, int], census: Census) -> None:
    """Each account whose create's answer was lost: its id from the console, imported, and
    its token rotated (the one MiniMax issued was lost with the answer)."""
    for name in sorted(named):
        subject_id = workdir.accounts()[name]["subject_id"]
        census.saw(workdir, workdir.run("import", address(name), subject_id))
        wanted[name] += 1
    _write_config(workdir, wanted)


def _accounts(workdir: Workdir, names: list[str], census: Census) -> None:
    _write_config(workdir, dict.fromkeys(names, 0))
    census.saw(workdir, workdir.run("apply", "--auto-approve"))


def _write_config(workdir: Workdir, wanted: dict[str, int]) -> None:
    lines = []
    for name, generation in sorted(wanted.items()):
        status = "disabled" if name in ("n0", "n1", "n2") else "enabled"
        lines.append(f"- name: {name}\n  token_generation: {generation}\n  status: {status}\n")
    workdir.config("".join(lines), extra="safety:\n  max_delete_percent: 100")


def _apply_until_done(workdir: Workdir, run: FaultRun, census: Census, rounds: int) -> set[str]:
    """Apply until an apply fails nothing; the names its advice says to import."""
    named: set[str] = set()
    for _ in range(rounds):
        result = workdir.run("apply", "--auto-approve")
        census.saw(workdir, result)
        run.applies += 1
        run.unreadable += not _loads(workdir)
        for where, advice in failures(result.stdout).items():
            if "its subject_id is unknown" in advice:
                named.add(where.split('"')[1])
        run.done = result.code == 0
        if run.done:
            break
    return named


def _loads(workdir: Workdir) -> bool:
    try:
        backend = LocalBackend(workdir.path / "state" / "reconciler.json")
        backend.read()
        SecretStore(backend.sealed_secrets(), _key(workdir))
    except Exception:
        return False
    return True


def _converged(workdir: Workdir, wanted: dict[str, int], census: Census) -> bool:
    plan = workdir.run("plan", "--detailed-exitcode")
    census.saw(workdir, plan)
    names = [a["account_name"] for a in workdir.sandbox.minimax_accounts(GROUP)]
    state = LocalBackend(workdir.path / "state" / "reconciler.json").read().resources
    ids = {a["account_name"]: a["subject_id"] for a in workdir.sandbox.minimax_accounts(GROUP)}
    recorded = all(state[address(n)]["subject_id"] == ids.get(n) for n in wanted)
    return plan.code == 0 and sorted(names) == sorted(wanted) and recorded


def _tokens_kept(workdir: Workdir, wanted: dict[str, int]) -> int:
    backend = LocalBackend(workdir.path / "state" / "reconciler.json")
    store = SecretStore(backend.sealed_secrets(), _key(workdir))
    tokens = {a["account_name"]: a["token"] for a in workdir.sandbox.minimax_accounts(GROUP)}
    return sum(
        store.has(address(n)) and store.get(address(n), "token") == tokens.get(n) for n in wanted
    )


def _key(workdir: Workdir) -> bytes | None:
    return load_key("K", {"K": workdir.env["RECONCILER_SECRET_KEY"]})
