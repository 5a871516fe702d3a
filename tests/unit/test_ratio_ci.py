"""benchmarks/ratio_ci.py: the bootstrap interval of a ratio of mean env steps."""

import importlib.util
from pathlib import Path

import pytest

_SPEC = importlib.util.spec_from_file_location("ratio_ci", Path(__file__).parents[2] / "benchmarks" / "ratio_ci.py")
ratio_ci = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(ratio_ci)


def test_ratio_of_means_and_its_interval():
    result = ratio_ci.ratio_interval([1.0, 3.0], [4.0, 4.0, 4.0], resamples=5000)
    assert result["ratio"] == pytest.approx(0.5)
    # the numerator's resampled mean is 1, 2 or 3 (probability 1/4, 1/2, 1/4); the denominator is fixed
    assert (result["low"], result["high"]) == pytest.approx((0.25, 0.75))
    assert result["share_at_most_a_third"] == pytest.approx(0.25, abs=0.02)
    with pytest.raises(ValueError, match="at least one seed"):
        ratio_ci.ratio_interval([], [1.0])


def test_cli_from_per_seed_values(capsys):
    assert ratio_ci.main(["--steps", "1,3", "--steps", "4,4"]) == 0
    assert "ratio 0.50" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        ratio_ci.main(["--steps", "1,3"])
