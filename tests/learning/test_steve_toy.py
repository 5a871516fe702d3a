"""CI learning test: the STEVE paper's toy value-estimation claim (Figure 1) on a shorter chain
(`behaviorlab.algorithms.steve.toy`; the paper-sized study is benchmarks/steve_toy.py,
docs/benchmarks.md "STEVE").

Chain of 31 states (V(s) = s), ensembles of 8, H = 5, 2 seeds, 1,200 train steps; train steps to
value error < 1. Measured (2 seeds): TD 1,022 / 1,092; oracle MVE 226 / 208 and STEVE 242 / 177
(≈ 5× fewer); noisy model: MVE never (error ≈ 49 and rising), STEVE 639 / 585.
"""

import pytest

from behaviorlab.algorithms.steve.toy import run

pytestmark = pytest.mark.learning
STEPS, SEEDS, STATES = 1200, 2, 31


def steps_to_error_below_one(**kwargs):
    result = run(**kwargs, seeds=SEEDS, steps=STEPS, states=STATES)
    return result["steps_to_threshold"], result["errors"][-1]


def test_model_expansion_speeds_up_value_estimation_and_steve_survives_a_noisy_model():
    td, _ = steps_to_error_below_one(reduction="td")
    assert (td > 0).all(), td
    for reduction in ("mve", "steve"):
        oracle, _ = steps_to_error_below_one(reduction=reduction)
        assert (oracle > 0).all() and 4 * oracle.max() <= td.min(), (reduction, oracle, td)
    noisy = dict(noisy=True, model_members=8)
    mve, mve_error = steps_to_error_below_one(reduction="mve", **noisy)
    assert (mve < 0).all() and (mve_error > 10).all(), mve_error
    steve, _ = steps_to_error_below_one(reduction="steve", **noisy)
    assert (steve > 0).all() and (steve < td).all(), (steve, td)
