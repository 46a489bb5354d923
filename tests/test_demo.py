"""The first Quick start command: `reconciler demo` works with no credentials and leaves nothing behind."""

from __future__ import annotations

import subprocess
import sys


def test_demo_plans_applies_converges_catches_drift_rotates_and_guards_money_without_credentials(
    tmp_path,
):
    env = {"PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "utf-8", "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "demo"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Plan: 3 to create, 1 to update, 0 to rotate, 0 to delete." in out
    assert "Apply complete: 4 succeeded, 0 failed, 0 skipped." in out
    assert "No changes." in out
    assert "xai.prod.spending_limit has drifted outside reconciler" in out
    assert "$250.00 -> $500.00" in out
    assert "Plan: 0 to create, 1 to update, 1 to rotate, 0 to delete." in out
    assert "Apply complete: 2 succeeded, 0 failed, 0 skipped." in out
    assert "intern-2026@1687256519302470" in out and "disabled" in out
    assert "soft spending limit $500.00" in out
    assert "主账号" in out and "main account" in out  # usage names who spent
    assert "(over budget: 6.00 > 5.00 this month)" in out
    assert 'Warning: minimax.sandbox.sub_account["临时工"]: 临时工 spent 3.21 this month' in out
    assert "ci-bot@1687256519302470  subject_id" in out and "(exit 2: a guard rail is broken" in out
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []
