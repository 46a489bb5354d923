"""A throwaway PostgreSQL cluster on loopback, for the test suite, CI and the benchmark.

``initdb`` into a temporary directory, ``pg_ctl start`` on a free port of 127.0.0.1
(its socket in that directory too), a role with a password, and a DSN to reach it; stop
removes it all. PostgreSQL refuses to run as root, so as root the server runs as the
``postgres`` user (Debian's package makes it) or, failing that, ``nobody``. Standard
library only: ``.ci/run`` starts the cluster with the system's ``python3`` before the
virtual environment exists (``python3 -m reconciler.testing.pgcluster start``), and the
``pg_dsn`` fixture of ``tests/conftest.py`` starts one the same way when no server is
given. For tests durability is off (``fsync=off``): nothing here outlives the run; the
benchmark asks for a durable one.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROLE = "reconciler"
DATABASE = "postgres"
_SETTINGS = ("max_connections=300",)
_FAST = ("fsync=off", "full_page_writes=off")  # for tests: nothing outlives the run


@dataclass(frozen=True)
class Cluster:
    """A running cluster: its data directory, the server's binaries, and a DSN for it."""

    directory: Path
    bindir: Path
    dsn: str
    user: str | None  # who runs the server (None: this user)

    def stop(self) -> None:
        """Stop the server at once and remove its directory."""
        pg_ctl = [str(self.bindir / "pg_ctl"), "stop", "-m", "immediate", "-D", str(self.data)]
        subprocess.run(_as(self.user, pg_ctl), capture_output=True, check=False)
        shutil.rmtree(self.directory, ignore_errors=True)

    @property
    def data(self) -> Path:
        return self.directory / "data"


def find_bindir() -> Path | None:
    """Where ``initdb`` and ``pg_ctl`` are: on PATH, else Debian's newest version."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    return Path(versions[-1]).parent if versions else None


def start(bindir: Path | None = None, *, durable: bool = False) -> Cluster:
    """Start a new cluster; ``RuntimeError`` with the server's own words when it cannot.

    ``durable`` keeps PostgreSQL's defaults (every commit flushed to disk), as the
    benchmark needs; tests run without.
    """
    bindir = bindir or find_bindir()
    if bindir is None:
        raise RuntimeError("no PostgreSQL server binaries (initdb, pg_ctl) on this machine")
    user = _server_user()
    # The server's user must reach it: a private TMPDIR of root's would not do.
    directory = Path(tempfile.mkdtemp(prefix="reconciler-pg-", dir="/tmp" if user else None))
    password = secrets.token_hex(12)
    (directory / "pw").write_text(password + "\n", encoding="utf-8")
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(directory, entry.pw_uid, entry.pw_gid)
        os.chown(directory / "pw", entry.pw_uid, entry.pw_gid)
    cluster = Cluster(directory, bindir, "", user)
    port = _free_port()
    settings = _SETTINGS + (() if durable else _FAST)
    try:
        _initdb(cluster, directory / "pw")
        _run(user, _pg_ctl_start(cluster, port, settings))
    except RuntimeError:
        cluster.stop()
        raise
    (directory / "pw").unlink()
    dsn = f"postgresql://{ROLE}:{password}@127.0.0.1:{port}/{DATABASE}"
    return Cluster(directory, bindir, dsn, user)


def _initdb(cluster: Cluster, password_file: Path) -> None:
    """A new data directory whose one role, ``ROLE``, signs in with the password given."""
    initdb = [str(cluster.bindir / "initdb"), "-D", str(cluster.data), "-U", ROLE]
    initdb += ["-A", "scram-sha-256", f"--pwfile={password_file}", "-E", "UTF8", "--no-sync"]
    _run(cluster.user, initdb)


def _pg_ctl_start(cluster: Cluster, port: int, settings: tuple[str, ...]) -> list[str]:
    """``pg_ctl start`` on 127.0.0.1:``port``, its socket and log in the cluster's directory."""
    options = [f"-p {port}", "-c listen_addresses=127.0.0.1", f"-k {cluster.directory}"]
    options += [f"-c {setting}" for setting in settings]
    log = cluster.directory / "server.log"
    pg_ctl = [str(cluster.bindir / "pg_ctl"), "start", "-w", "-t", "60", "-D", str(cluster.data)]
    return [*pg_ctl, "-l", str(log), "-o", " ".join(options)]


def _server_user() -> str | None:
    """Who runs the server: this user, unless root (then ``postgres``, else ``nobody``)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise RuntimeError("running as root, and no postgres or nobody user to run the server as")


def _as(user: str | None, argv: list[str]) -> list[str]:
    if user is None:
        return argv
    runuser = shutil.which("runuser")
    return (
        [runuser, "-u", user, "--", *argv]
        if runuser
        else ["su", user, "-s", "/bin/sh", "-c", " ".join(map(_quote, argv))]
    )


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def _run(user: str | None, argv: list[str]) -> None:
    done = subprocess.run(
        _as(user, argv),
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
        stdin=subprocess.DEVNULL,
    )
    if done.returncode:
        words = (done.stderr or done.stdout).strip()[-2000:]
        raise RuntimeError(f"{Path(argv[0]).name} failed (exit {done.returncode}): {words}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main(argv: list[str]) -> int:
    """``start FILE``: start a cluster, write its DSN to FILE and its directory beside it;
    ``stop FILE``: stop the cluster FILE names."""
    if len(argv) != 2 or argv[0] not in ("start", "stop"):
        print("usage: python3 -m reconciler.testing.pgcluster start|stop FILE", file=sys.stderr)
        return 1
    note = Path(argv[1])
    if argv[0] == "start":
        cluster = start()
        note.write_text(
            f"{cluster.dsn}\n{cluster.directory}\n{cluster.bindir}\n{cluster.user or ''}\n"
        )
        note.chmod(0o600)
        return 0
    dsn, directory, bindir, user = note.read_text().splitlines()[:4]
    Cluster(Path(directory), Path(bindir), dsn, user or None).stop()
    note.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
