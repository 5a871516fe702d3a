"""CI learning test: the shipped LBC CartPole spec learns within a small budget.

Env CartPole-v1, budget 30k env steps, seed 0, threshold: mean return (RLlib's episode_return_mean: the episodes ended in one iteration,
over every behaviour the bandit picks) ≥ 400; the run stops once it gets there.
Measured (experiments/lbc/cartpole.yaml, 2 shared cores): seed 0 reached 480 at 12.1k env steps in
two runs with identical curves (≈ 60 s of training), seed 1 reached 414 at 6.1k, seed 2 483 at 14.2k;
random play is ~22.
"""

import pytest

from tests.learning.runs import best_return, run_spec

pytestmark = pytest.mark.learning

BUDGET_ENV_STEPS = 30_000
THRESHOLD = 400.0


def test_lbc_learns_cartpole(tmp_path):
    rows = run_spec("experiments/lbc/cartpole.yaml", "lbc-learning",
                    {"env_steps": BUDGET_ENV_STEPS, "episode_return_mean": THRESHOLD}, tmp_path)
    best = best_return(rows)
    assert rows[-1]["num_env_steps_sampled_lifetime"] <= BUDGET_ENV_STEPS + 3000
    assert best >= THRESHOLD, f"best mean return {best:.1f} < {THRESHOLD} within {BUDGET_ENV_STEPS} env steps"
    # The bandit really ran: every finished episode reached it.
    assert rows[-1]["meta_controller/episodes"] == rows[-1]["env_runners/num_episodes_lifetime"]
