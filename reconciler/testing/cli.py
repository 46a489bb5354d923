"""The CLI run in this process, as ``reconciler`` would run in a child process.

``run_in_process`` runs ``main()`` with a working directory and an environment of its
own, no terminal on stdin (as in CI), stdout and stderr captured apart, and the exit code
it exits with; everything it swaps (cwd, environment, streams, the SIGTERM handler, the
GC settings) is put back after. The test suite (``Workdir.run``) and the reliability
report use it: thousands of commands cost no interpreter start-up each.
"""

from __future__ import annotations

import gc
import io
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_in_process(args: list[str], cwd: Path, env: dict[str, str]) -> Result:
    """``reconciler ARGS`` through ``main()``, as a child process would see the world.

    The working directory, the environment, stdin (empty, no terminal), stdout, stderr,
    the SIGTERM handler and the GC settings are this process's own, so each is swapped
    for the run and put back after it. xdist runs tests in separate processes, so no two
    runs share them.
    """
    from reconciler.cli import main

    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    saved_streams = sys.stdin, sys.stdout, sys.stderr
    saved_sigterm, saved_gc = signal.getsignal(signal.SIGTERM), gc.get_threshold()
    stdout, stderr = _stream(), _stream()
    try:
        os.environ.clear()
        os.environ.update(env)
        os.chdir(cwd)
        sys.stdin, sys.stdout, sys.stderr = io.StringIO(""), stdout, stderr
        try:
            main(args)
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        signal.signal(signal.SIGTERM, saved_sigterm)
        gc.set_threshold(*saved_gc)
        gc.unfreeze()  # main() freezes what it made, for a fast exit; tests keep collecting
    return Result(code, _text(stdout), _text(stderr))


def _stream() -> io.TextIOWrapper:
    """A stream like a redirected stdout: UTF-8 (as PYTHONIOENCODING says), no terminal."""
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict", write_through=True)


def _text(stream: io.TextIOWrapper) -> str:
    stream.flush()
    buffer = stream.buffer
    assert isinstance(buffer, io.BytesIO)
    return buffer.getvalue().decode("utf-8")
