"""Run the CLI as the installed ``reconciler`` command does, from any directory.

``Workdir.run`` runs ``python -m reconciler`` in the workdir. A console script differs in
one way that matters here: ``python -m`` puts the current directory first on
``sys.path``, so a GitOps repo's ``reconciler/`` config directory would shadow the
package under an editable install. ``command_dir`` writes a script like the one pip
installs (its own directory first on ``sys.path``), for tests and example workflows that
run ``reconciler ...`` from a repo laid out as users lay theirs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import Result

SCRIPT = """#!{python}
import sys
from reconciler.cli import main
sys.exit(main())
"""


def command_dir(parent: Path) -> Path:
    """A directory holding an executable ``reconciler``, as ``pip install`` makes it."""
    bin_dir = parent / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "reconciler"
    script.write_text(SCRIPT.format(python=sys.executable), encoding="utf-8")
    script.chmod(0o755)
    return bin_dir


def run_at(workdir, cwd: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    """The ``reconciler`` command run from ``cwd`` with the workdir's environment."""
    merged = {k: v for k, v in {**workdir.env, **(env or {})}.items() if v is not None}
    script = command_dir(workdir.path.parent / f"{workdir.path.name}-bin") / "reconciler"
    proc = subprocess.run(
        [str(script), *args],
        cwd=cwd,
        env=merged,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)
