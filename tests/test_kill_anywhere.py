"""kill -9 anywhere in a 400-create apply: every state loads, and nothing is lost or twinned.

One apply of 400 sub-accounts is killed with SIGKILL at 20 random moments (in start-up,
while creates are in flight, right after the last answer), each time resumed by a new
apply. After every kill the state and the secrets store must load, and every account the
state records as created must have its secret sealed for that same account. The last
apply runs to its end; then every account that exists at the provider is either recorded
with its secret, or named in that apply's output with a way to recover it, and no name
exists twice. The seed is in the failure message, to replay a failing run. It runs with
the state in the local file and in PostgreSQL.
"""

from __future__ import annotations

import random

import pytest
from conftest import BACKENDS

from reconciler.testing.crashes import kill_at_a_random_moment, unaccounted, whole_state_problem
from reconciler.testing.workdir import GROUP

CREATES = 400
KILLS = 20


@pytest.mark.slow
@pytest.mark.parametrize("workdir", BACKENDS, indirect=True)
def test_kill_9_at_20_random_moments_of_a_400_create_apply_loses_no_account(workdir):
    seed = random.randrange(1 << 30)
    chance = random.Random(seed)
    workdir.config("".join(f"- name: acct-{i:03d}\n" for i in range(CREATES)))
    workdir.sandbox.add_fault("POST", "/v1/sub_account", kind="latency", delay=0.02, times=None)

    for kill in range(KILLS):
        moment = kill_at_a_random_moment(workdir, chance, CREATES)
        problem = whole_state_problem(workdir)
        assert problem is None, f"after kill {kill + 1} ({moment}), seed {seed}: {problem}"

    final = workdir.run("apply", "--auto-approve", "--parallelism", "16")

    assert "Traceback" not in final.output, f"seed {seed}"
    names = [a["account_name"] for a in workdir.sandbox.minimax_accounts(GROUP)]
    assert len(names) == len(set(names)) == CREATES, f"seed {seed}: twins or missing accounts"
    left, named = unaccounted(workdir, final.stdout)
    assert left == [], f"seed {seed}: neither recorded with its token nor reported: {left}"
    assert final.code == (1 if named else 0), f"seed {seed}"
