"""Benchmark: planning 10,000 sub-accounts, config loading, and CLI start-up time.

Prints figures; asserts nothing (targets are judged by people, not by flaky timed tests).
DESIGN targets: a 10,000-account join in ~10 ms, `reconciler --help` near 150 ms.
Run: .venv/bin/python benchmarks/bench_plan.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

from reconciler.config import load_config
from reconciler.model import Desired, DesiredSubAccount, MinimaxGroup, RecordedSubAccount, Status
from reconciler.planner import make_plan

N = 10_000
NOW = datetime(2026, 11, 23, tzinfo=UTC)


def _desired() -> Desired:
    accounts = tuple(
        DesiredSubAccount(
            "main",
            f"acct-{i}",
            Status.DISABLED if i % 10 == 0 else Status.ENABLED,
            token_generation=1 if i % 7 == 0 else 0,
            rotate_every=timedelta(days=90),
            rotate_every_text="90d",
        )
        for i in range(N)
    )
    return Desired(minimax={"main": MinimaxGroup("main", "1", "K", sub_accounts=accounts)})


def _recorded() -> dict[str, RecordedSubAccount]:
    records = (
        RecordedSubAccount(
            "main",
            f"acct-{i}",
            "1",
            str(i),
            Status.ENABLED,
            0,
            token_issued_at=NOW - timedelta(days=i % 120),
        )
        for i in range(N + N // 10)
    )
    return {r.address: r for r in records}


def bench(label: str, fn, repeat: int = 5) -> None:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    print(
        f"{label:<48} median {statistics.median(times) * 1000:8.1f} ms  (min {min(times) * 1000:.1f})"
    )


def main() -> None:
    desired, recorded = _desired(), _recorded()
    plan = make_plan(desired, recorded, NOW)
    print(f"plan of {N} desired / {len(recorded)} recorded accounts: {len(plan.changes)} changes")
    bench(f"make_plan, {N} accounts", lambda: make_plan(desired, recorded, NOW))
    tracemalloc.start()
    make_plan(desired, recorded, NOW)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"{'make_plan peak traced memory':<48} {peak / 2**20:8.1f} MiB")

    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp, "reconciler.yaml")
        lines = [
            "version: 1",
            "minimax:",
            "  main:",
            '    group_id: "1"',
            "    api_key_env: K",
            "    sub_accounts:",
        ]
        lines += [f"      - name: acct-{i}\n        rotate_every: 90d" for i in range(N)]
        config.write_text("\n".join(lines) + "\n")
        bench(
            f"load_config (YAML + schema), {N} accounts",
            lambda: load_config([str(config)]),
            repeat=3,
        )

    cli = [sys.executable, "-m", "reconciler", "--help"]
    bench(
        "`reconciler --help` (process start-up)",
        lambda: subprocess.run(cli, capture_output=True, check=True),
    )


if __name__ == "__main__":
    main()
