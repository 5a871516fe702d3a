"""benchmarks/ptgm_report.py: the area under a return curve."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

_SPEC = importlib.util.spec_from_file_location("ptgm_report", Path(__file__).parents[2] / "benchmarks" / "ptgm_report.py")
ptgm_report = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(ptgm_report)


def test_auc_holds_the_first_return_from_zero_and_interpolates_at_the_end():
    steps, returns = np.array([2.0, 4.0, 8.0]), np.array([0.0, 1.0, 0.0])
    # [0, 2]: 0; [2, 4]: ramp 0→1, area 1; [4, 6]: ramp 1→0.5, area 1.5; so 2.5 / 6
    assert ptgm_report.auc(steps, returns, 6.0) == pytest.approx(2.5 / 6)
    # the whole curve: 0 + 1 + (1 + 0) / 2 · 4 = 3 over 8
    assert ptgm_report.auc(steps, returns, 8.0) == pytest.approx(3 / 8)
    with pytest.raises(ValueError, match="past the curve's last step"):
        ptgm_report.auc(steps, returns, 9.0)
