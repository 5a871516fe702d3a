"""CI learning test: behaviour cloning of the shipped expert data beats random play within seconds.

Env seals/CartPole-v0 (500 steps, reward 1 per step with the pole up), the shipped BC spec with 4
expert trajectories (2,000 (s, a) pairs), budget 3 iterations (15 passes over the data, 3,000 env
steps of evaluation), seed 0. Threshold: best mean return ≥ 200, ≈ 8× uniform random play (≈ 26;
docs/benchmarks.md "Imitation: BC and GAIL" has BC's measured returns).
"""

import pytest
import yaml

from tests.integration.conftest import REPO
from tests.learning.runs import best_return, run_spec

pytestmark = pytest.mark.learning

THRESHOLD = 200.0


def test_bc_beats_random_on_seals_cartpole(tmp_path):
    spec = yaml.safe_load((REPO / "experiments/bc/seals_cartpole.yaml").read_text())
    spec["config"].update(num_expert_trajectories=4, expert_data=str(REPO / spec["config"]["expert_data"]))
    (tmp_path / "experiments").mkdir()
    (tmp_path / "experiments" / "bc.yaml").write_text(yaml.safe_dump(spec))
    rows = run_spec(str(tmp_path / "experiments" / "bc.yaml"), "bc-learning", {"iterations": 3}, tmp_path)
    best = best_return(rows)
    assert best >= THRESHOLD, f"best mean return {best:.1f} < {THRESHOLD} after 3 BC iterations"
