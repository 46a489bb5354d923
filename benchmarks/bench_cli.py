"""Benchmark of the reconciler CLI against the sandbox, beside this machine's own limits.

Every figure is a whole command, run as users run it (a new process, wall time and peak
RSS), next to a baseline measured in the same run on the same machine:

* ``reconciler --help`` (median of 10), beside a bare ``python -c pass``;
* ``validate`` and ``plan --no-refresh`` (empty state) of 1,000 and 10,000 sub-accounts,
  beside loading the same YAML with PyYAML's C loader;
* ``apply --auto-approve`` of N creates at parallelism P against a sandbox answering in L
  ms: its ratio to the floor N*L/P, and to a plain threaded httpx loop making the same N
  calls against a fresh sandbox (the practical limit of this machine: the loop has no
  state, secrets or plan to keep);
* the same apply at 0 ms latency for 800 and 3,200 creates: a ratio near 4 is linear,
  near 16 quadratic;
* optionally (``--large``) N creates at L ms against the floor alone;
* the same N creates at L ms with the state in PostgreSQL (``--postgres``): a server on
  loopback, ``$RECONCILER_BENCH_PG_DSN`` or else a throwaway cluster started for the run,
  with PostgreSQL's durable defaults (every commit flushed), a fresh schema per apply
  whose tables exist already (as after a team's first apply).

The sandbox runs in its own process (``reconciler sandbox``), with latency injected on
every provider call through its ``/_sandbox/faults`` admin route. It asserts nothing:
targets are judged by people reading the figures (``docs/performance.md``).

Run: .venv/bin/python benchmarks/bench_cli.py [--latency-ms 50] [--creates 1000]
     [--parallelism 16] [--rounds 3] [--large 10000] [--linear 800,3200] [--postgres yes|no]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from reconciler.sandbox import SANDBOX_MINIMAX_API_KEY, SANDBOX_MINIMAX_GROUP_ID
from reconciler.secrets import generate_key
from reconciler.testing import pgcluster

PYTHON = sys.executable
_SCRIPT = Path(PYTHON).with_name("reconciler")
RECONCILER = [str(_SCRIPT)] if _SCRIPT.exists() else [PYTHON, "-m", "reconciler"]

# The practical limit: N creates from P threads sharing one keep-alive httpx client.
PLAIN_LOOP = r"""
import sys, time
from concurrent.futures import ThreadPoolExecutor
import httpx
url, n, p, group, key = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
limits = httpx.Limits(max_connections=p, max_keepalive_connections=p)
client = httpx.Client(base_url=url, limits=limits, headers={"Authorization": f"Bearer {key}"})
def create(i):
    answer = client.post("/v1/sub_account", params={"GroupId": group},
                         json={"account_name": f"loop-{i}"})
    assert answer.json()["base_resp"]["status_code"] == 0, answer.text
started = time.perf_counter()
with ThreadPoolExecutor(p) as pool:
    list(pool.map(create, range(n)))
print(f"calls {time.perf_counter() - started:.4f}")
"""


@dataclass(frozen=True)
class Run:
    wall: float  # seconds
    peak_mb: float  # peak resident set of the process
    code: int


def run(argv: Sequence[str], cwd: Path, env: dict[str, str], log: Path | None = None) -> Run:
    """One process, start to exit: its wall time and its own peak RSS (``wait4``)."""
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115
    try:
        start = time.perf_counter()
        child = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=out)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if log:
            out.close()  # type: ignore[union-attr]
    return Run(wall, usage.ru_maxrss / 1024, child.returncode)


def base_env() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(MINIMAX_API_KEY=SANDBOX_MINIMAX_API_KEY, RECONCILER_SECRET_KEY=generate_key())
    return env


def write_config(directory: Path, accounts: int, url: str, state: Sequence[str] = ()) -> Path:
    lines = [
        "version: 1",
        *state,
        "minimax:",
        "  bench:",
        f'    group_id: "{SANDBOX_MINIMAX_GROUP_ID}"',
        "    api_key_env: MINIMAX_API_KEY",
        f"    base_url: {url}",
        "    sub_accounts:",
        *(f"      - name: acct-{i:05d}" for i in range(accounts)),
    ]
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "reconciler.yaml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


class SandboxProcess:
    """``reconciler sandbox`` on a free loopback port, driven through its admin routes."""

    def __init__(self, latency_ms: float) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._process = subprocess.Popen(
            [*RECONCILER, "sandbox", "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_until_up()
        if latency_ms:
            fault = {"method": "*", "path": "/v1/.*", "kind": "latency", "times": None}
            self._admin("POST", "/_sandbox/faults", {**fault, "delay": latency_ms / 1000})

    def accounts(self) -> int:
        path = f"/_sandbox/minimax/{SANDBOX_MINIMAX_GROUP_ID}/sub_accounts"
        return len(self._admin("GET", path)["sub_accounts"])

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(timeout=10)

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + 20
        while True:
            try:
                self._admin("GET", "/_sandbox/health")
                return
            except OSError:
                if time.monotonic() > deadline or self._process.poll() is not None:
                    raise RuntimeError("the sandbox did not start") from None
                time.sleep(0.05)

    def _admin(self, method: str, path: str, body: dict[str, object] | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        with urllib.request.urlopen(request, timeout=30) as answer:
            result: dict = json.loads(answer.read())
            return result


@contextmanager
def sandbox(latency_ms: float) -> Iterator[SandboxProcess]:
    server = SandboxProcess(latency_ms)
    try:
        yield server
    finally:
        server.stop()


def median_run(argv: Sequence[str], cwd: Path, env: dict[str, str], times: int) -> Run:
    runs = [run(argv, cwd, env) for _ in range(times)]
    if any(r.code for r in runs):
        raise RuntimeError(f"{' '.join(argv)} failed (exit {runs[0].code})")
    return Run(statistics.median(r.wall for r in runs), max(r.peak_mb for r in runs), 0)


def bench_start_up(work: Path, env: dict[str, str]) -> None:
    bare = median_run([PYTHON, "-c", "pass"], work, env, 10)
    help_ = median_run([*RECONCILER, "--help"], work, env, 10)
    print("Start-up (median of 10)")
    print(f"  python -c pass                {bare.wall * 1000:7.0f} ms")
    print(f"  reconciler --help             {help_.wall * 1000:7.0f} ms   (target <= 100 ms)")


def bench_offline(work: Path, env: dict[str, str], sizes: Sequence[int]) -> None:
    print("Offline commands, empty state (median of 3 runs; peak RSS of the process)")
    load = "import sys, yaml; yaml.load(open(sys.argv[1]), Loader=yaml.CSafeLoader)"
    for size in sizes:
        directory = work / f"offline-{size}"
        config = write_config(directory, size, "https://api.minimax.chat")
        baseline = median_run([PYTHON, "-c", load, str(config)], directory, env, 3)
        validate = median_run([*RECONCILER, "validate"], directory, env, 3)
        plan = median_run([*RECONCILER, "plan", "--no-refresh"], directory, env, 3)
        print(f"  {size:>6} sub-accounts   YAML C-load baseline {_figure(baseline)}")
        print(f"  {'':>6}                validate             {_figure(validate)}")
        target = "   (target <= 0.6 s, <= 100 MB)" if size >= 10_000 else ""
        print(f"  {'':>6}                plan --no-refresh    {_figure(plan)}{target}")


def plain_loop(creates: int, parallelism: int, latency_ms: float, work: Path) -> tuple[Run, float]:
    """The loop as a whole process (as apply is timed), and the time of its calls alone."""
    log = work / "loop.log"
    with sandbox(latency_ms) as server:
        argv = [PYTHON, "-c", PLAIN_LOOP, server.url, str(creates), str(parallelism)]
        argv += [SANDBOX_MINIMAX_GROUP_ID, SANDBOX_MINIMAX_API_KEY]
        result = run(argv, work, base_env(), log=log)
        if result.code or server.accounts() != creates:
            raise RuntimeError("the plain httpx loop failed")
    return result, float(log.read_text().split()[-1])


def apply(
    creates: int, parallelism: int, latency_ms: float, work: Path, pg_dsn: str | None = None
) -> Run:
    """One apply against a fresh sandbox; with ``pg_dsn``, the state in a fresh schema there."""
    directory = work / f"apply-{creates}-{parallelism}-{latency_ms:g}-{time.monotonic_ns()}"
    env = base_env()
    state: list[str] = []
    if pg_dsn:
        schema = f"bench_{uuid.uuid4().hex[:12]}"
        make_tables(pg_dsn, schema)
        env["RECONCILER_PG_DSN"] = pg_dsn
        state = ["state:", "  backend: postgres", f"  schema: {schema}"]
    with sandbox(latency_ms) as server:
        write_config(directory, creates, server.url, state)
        argv = [*RECONCILER, "apply", "--auto-approve", "--parallelism", str(parallelism)]
        result = run(argv, directory, env, log=directory / "apply.log")
        made = server.accounts()
    if result.code or made != creates:
        tail = (directory / "apply.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"apply failed (exit {result.code}, {made} created):\n{tail}")
    return result


def make_tables(dsn: str, schema: str) -> None:
    """The schema's tables, made before the timed apply: a team's database has them from
    its first apply on (which makes them, ~30 ms once)."""
    import psycopg

    from reconciler.state.postgres_tables import ensure

    with psycopg.connect(dsn, autocommit=True) as connection:
        ensure(connection, schema)


def bench_apply(
    creates: int,
    parallelism: int,
    latency_ms: float,
    rounds: int,
    work: Path,
    pg_dsn: str | None = None,
) -> None:
    """The loop and the applies in turn, ``rounds`` times: medians, and the pairs' ratio."""
    floor = creates * latency_ms / 1000 / parallelism
    loops, calls, applies, on_pg = [], [], [], []
    for _ in range(rounds):
        process, calls_alone = plain_loop(creates, parallelism, latency_ms, work)
        loops.append(process)
        calls.append(calls_alone)
        applies.append(apply(creates, parallelism, latency_ms, work))
        if pg_dsn:
            on_pg.append(apply(creates, parallelism, latency_ms, work, pg_dsn))
    loop = statistics.median(r.wall for r in loops)
    inside = statistics.median(calls)
    print(
        f"apply of {creates} creates, parallelism {parallelism}, latency {latency_ms:g} ms "
        f"(median of {rounds} rounds, loop and apply in turn)"
    )
    print(f"  floor N*L/P                   {floor:7.2f} s")
    print(f"  plain threaded httpx loop     {loop:7.2f} s   {loop / floor:5.2f}x floor")
    print(f"    (its calls alone, timed inside: {inside:.2f} s, {inside / floor:.2f}x floor)")
    rows = [("reconciler apply", applies, "(targets <= 1.15x floor, <= 1.10x loop)")]
    if on_pg:
        rows.append(("  state in PostgreSQL", on_pg, "(target <= 1.25x floor)"))
    for label, runs, target in rows:
        applied = statistics.median(r.wall for r in runs)
        ratio = statistics.median(a.wall / b.wall for a, b in zip(runs, loops, strict=True))
        peak = max(r.peak_mb for r in runs)
        print(
            f"  {label:<30}{applied:7.2f} s   {applied / floor:5.2f}x floor"
            f"   {ratio:5.2f}x loop   peak {peak:.0f} MB   {target}"
        )


@contextmanager
def postgres(wanted: str) -> Iterator[str | None]:
    """A DSN for the PostgreSQL rows: ``$RECONCILER_BENCH_PG_DSN``, else a durable throwaway
    cluster on loopback (``yes`` fails without one; ``auto`` skips), None with ``no``."""
    given = os.environ.get("RECONCILER_BENCH_PG_DSN")
    if wanted == "no" or given:
        yield given if wanted != "no" else None
        return
    if pgcluster.find_bindir() is None:
        if wanted == "yes":
            raise RuntimeError("no PostgreSQL server binaries: set RECONCILER_BENCH_PG_DSN")
        yield None
        return
    cluster = pgcluster.start(durable=True)
    try:
        yield cluster.dsn
    finally:
        cluster.stop()


def bench_large(creates: int, parallelism: int, latency_ms: float, work: Path) -> None:
    floor = creates * latency_ms / 1000 / parallelism
    applied = apply(creates, parallelism, latency_ms, work)
    print(f"apply of {creates} creates, parallelism {parallelism}, latency {latency_ms:g} ms")
    print(
        f"  reconciler apply              {applied.wall:7.2f} s   {applied.wall / floor:5.2f}x "
        f"floor ({floor:.2f} s)   peak {applied.peak_mb:.0f} MB   (target <= 1.2x floor)"
    )


def bench_linear(sizes: Sequence[int], parallelism: int, work: Path) -> None:
    print(f"apply at 0 ms latency, parallelism {parallelism} (linear: time grows like N)")
    walls = []
    for size in sizes:
        applied = apply(size, parallelism, 0, work)
        walls.append(applied.wall)
        print(
            f"  {size:>6} creates                {applied.wall:7.2f} s   peak {applied.peak_mb:.0f} MB"
        )
    small, large = sizes[0], sizes[-1]
    print(
        f"  {large} / {small}: {walls[-1] / walls[0]:.2f}x the time for {large / small:g}x the "
        f"creates   (target <= {large / small * 1.125:g}x)"
    )


def _figure(result: Run) -> str:
    return f"{result.wall:6.3f} s   peak {result.peak_mb:5.0f} MB"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--creates", type=int, default=1000)
    parser.add_argument("--parallelism", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="loop/apply pairs to take medians of")
    parser.add_argument("--large", type=int, default=10_000, help="0 skips the large apply")
    parser.add_argument("--linear", default="800,3200", help="creates at 0 ms, comma-separated")
    parser.add_argument("--offline", default="1000,10000", help="sizes for validate and plan")
    parser.add_argument(
        "--postgres",
        choices=["auto", "yes", "no"],
        default="auto",
        help="also apply with the state in PostgreSQL (auto: when a server can be had)",
    )
    args = parser.parse_args(argv)
    print(f"reconciler benchmark: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}\n")
    with (
        tempfile.TemporaryDirectory(prefix="reconciler-bench-") as tmp,
        postgres(args.postgres) as pg_dsn,
    ):
        work = Path(tmp)
        bench_start_up(work, base_env())
        print()
        bench_offline(work, base_env(), [int(n) for n in args.offline.split(",") if n])
        print()
        bench_apply(args.creates, args.parallelism, args.latency_ms, args.rounds, work, pg_dsn)
        print()
        bench_linear([int(n) for n in args.linear.split(",")], args.parallelism, work)
        if args.large:
            print()
            bench_large(args.large, args.parallelism, args.latency_ms, work)


if __name__ == "__main__":
    main()
