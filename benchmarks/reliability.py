"""The reliability report: what reconciler loses under kills, faults and hostile input.

One run prints, as markdown (``docs/reliability.md`` holds one run's figures):

* **kill -9**: one apply of N creates killed at K random moments (in start-up, or after a
  random share of its creates reached the provider), resumed each time; after every kill
  the state and the store must load and every account recorded as created must have its
  secrets sealed; a last apply runs to its end. Counted: kills survived, twins, accounts
  neither recorded with their token nor named with a way to recover them.
* **faults**: for each kind of provider fault, on 30 % of every provider call (seeded),
  an apply of creates, rotations, disables and deletes against existing accounts, run
  again until it fails nothing (5 at most); then, faults off, the printed advice is
  followed (an account whose answer was lost is imported with its id from the console
  and rotated) and apply runs until nothing is left. Counted: converged (no change left,
  every account exactly as the config says, recorded with its id), tokens kept, states
  or stores that did not load.
* **hostile input**: generated config files, saved plans, state files, secrets stores,
  journals, MiniMax create, rotation and bills answers, xAI limits answers and useapi.net
  credits answers
  (``reconciler/testing/hostile.py``, ``hostile_files.py``), each read or refused as the property tests demand
  (``reconciler/testing/checks.py``). Counted: tracebacks (any error but reconciler's
  own), secrets printed, accepted input that did not read back after being written.
* **secrets**: every token, password and key the runs saw, searched for in every output
  and every file the runs left.

Run: .venv/bin/python benchmarks/reliability.py [--kills 30] [--creates 400]
     [--inputs 12000] [--seed N]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reliability_runs import FAULTS, Census, kill_anywhere, under_fault

from reconciler.testing import checks, hostile, hostile_files


def targets() -> dict[str, tuple[st.SearchStrategy[Any], Callable[[Any], bool]]]:
    """What is generated, and the check each case must pass."""
    store, key_check = checks.valid_store()
    sealed = store["secrets"]['minimax.cn-main.sub_account["new"]']
    state = hostile_files.state_bytes()
    with_store = checks.valid_store_bytes()
    return {
        "config files": (hostile.config_text(), checks.check_config),
        "saved plans": (hostile.plan_document(checks.valid_plan()), checks.check_saved_plan),
        "state files": (
            hostile_files.state_file(),
            lambda d: checks.check_state_files(d, None, None),
        ),
        "secrets stores": (
            hostile_files.secrets_file(store),
            lambda d: checks.check_state_files(state, d, None),
        ),
        "journals": (
            hostile_files.journal_file(hostile_files.journal_lines(sealed, key_check)),
            lambda d: checks.check_state_files(state, with_store, d),
        ),
        "create answers": (hostile.create_answer(), checks.check_create_answer),
        "rotation answers": (hostile.rotate_answer(), checks.check_rotate_answer),
        "xAI limits answers": (hostile.xai_limits_answer(), checks.check_xai_limits),
        "MiniMax bills answers": (hostile.bills_answer(), checks.check_bills_answer),
        "useapi.net credits answers": (hostile.credits_answer(), checks.check_credits_answer),
    }


def fuzz(
    strategy: st.SearchStrategy[Any], check: Callable[[Any], bool], cases: int, seed: int
) -> Counter[str]:
    """Run ``check`` on ``cases`` generated inputs; count what each gave."""
    counts: Counter[str] = Counter()

    @hypothesis_seed(seed)
    @settings(
        max_examples=cases,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def run(value: Any) -> None:
        counts["cases"] += 1
        try:
            counts["accepted" if check(value) else "refused"] += 1
        except checks.SecretPrinted:
            counts["secrets printed"] += 1
        except checks.Unreadable:
            counts["unreadable"] += 1
        except AssertionError:
            counts["broken"] += 1
        except Exception:
            counts["tracebacks"] += 1

    run()
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=30)
    parser.add_argument("--creates", type=int, default=400)
    parser.add_argument("--inputs", type=int, default=12_000)
    parser.add_argument("--seed", type=int, default=random.randrange(1 << 30))
    args = parser.parse_args(argv)
    census, started = Census(), time.monotonic()
    print(f"# Reliability report (seed {args.seed})\n")
    _report_kills(args, census)
    _report_faults(args, census)
    _report_fuzz(args)
    print("\n## Secrets\n")
    print(f"Searched {len(census.secrets)} secrets the runs saw (tokens, passwords, keys) in")
    print(f"{len(census.texts)} outputs and files, {census.searched():,} characters: ")
    print(f"**{census.leaks()} found**; tracebacks in any output: **{census.tracebacks()}**.")
    print(f"\n({time.monotonic() - started:.0f} s)")
    return 0


def _report_kills(args: argparse.Namespace, census: Census) -> None:
    run = kill_anywhere(args.kills, args.creates, args.seed, census)
    moments = Counter("start-up" if "start-up" in m else "mid-apply" for m in run.moments)
    print(f"## kill -9 at {run.kills} random moments of one {args.creates}-create apply\n")
    print("| kills | survived (state loads, sealed before done) | twins | unaccounted | named |")
    print("|---|---|---|---|---|")
    print(
        f"| {run.kills} ({moments['start-up']} in start-up, {moments['mid-apply']} mid-apply) "
        f"| {run.survived} | {run.twins} | {run.unaccounted} | {run.named} |\n"
    )


def _report_faults(args: argparse.Namespace, census: Census) -> None:
    print("## Provider faults on 30 % of calls: 12 creates (3 disabled), 8 rotations, 4 deletes\n")
    print("| fault | applies | named for import | unreadable | converged | tokens kept |")
    print("|---|---|---|---|---|---|")
    for number, (name, fault) in enumerate(FAULTS.items()):
        run = under_fault(name, fault, args.seed + number, census)
        print(
            f"| {name} | {run.applies} | {run.named} | {run.unreadable} | "
            f"{'yes' if run.converged else 'NO'} | {run.tokens_kept}/{run.accounts} |"
        )


def _report_fuzz(args: argparse.Namespace) -> None:
    kinds = targets()
    per = -(-args.inputs // len(kinds))
    print(f"\n## Hostile input: {per:,} generated cases per kind\n")
    print("| input | cases | accepted | refused | tracebacks | secrets printed | unreadable |")
    print("|---|---|---|---|---|---|---|")
    total: Counter[str] = Counter()
    for name, (strategy, check) in kinds.items():
        counts = fuzz(strategy, check, per, args.seed)
        total.update(counts)
        print(_fuzz_row(name, counts))
    print(_fuzz_row("**all**", total))
    if total["broken"]:
        print(f"\n{total['broken']} case(s) broke another property of its check.")


def _fuzz_row(name: str, counts: Counter[str]) -> str:
    columns = ("cases", "accepted", "refused", "tracebacks", "secrets printed", "unreadable")
    return f"| {name} | " + " | ".join(f"{counts[c]:,}" for c in columns) + " |"


if __name__ == "__main__":
    sys.exit(main())
