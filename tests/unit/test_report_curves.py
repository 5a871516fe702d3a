"""Mean curves over seeds, their band, and the report's options, through the real CLI (no Ray)."""

import numpy as np
import pytest

from behaviorlab.platform.cli import main
from behaviorlab.platform.report import bootstrap_band, curve_matrix, load_experiment

from .test_report import _trial


def test_mean_curve_runs_to_the_longest_trial_holding_early_stoppers_at_their_last_value(tmp_path):
    exp = tmp_path / "exp"
    _trial(exp, "trial_0", 0, [100, 475])            # stopped at its threshold after 2k steps
    _trial(exp, "trial_1", 1, [50, 200, 400, 480])   # ran to 4k
    grid, values = curve_matrix(load_experiment(exp).trials, "env_runners/episode_return_mean")
    assert grid == [1000, 2000, 3000, 4000]
    assert values.mean(axis=0).tolist() == [75, 337.5, 437.5, 477.5]


def test_smoothing_averages_each_trials_own_reports(tmp_path):
    exp = tmp_path / "exp"
    _trial(exp, "trial_0", 0, [0, 10, 20, 30])
    _, values = curve_matrix(load_experiment(exp).trials, "env_runners/episode_return_mean", smooth=2)
    assert values[0].tolist() == [0, 5, 15, 25]


def test_bootstrap_band_brackets_the_mean_and_is_zero_width_without_spread():
    values = np.array([[1.0, 5.0], [3.0, 5.0], [8.0, 5.0]])
    low, high = bootstrap_band(values)
    assert low[0] < values[:, 0].mean() < high[0]
    assert 1.0 <= low[0] and high[0] <= 8.0
    assert low[1] == high[1] == 5.0


def test_report_out_and_smooth_through_the_cli(tmp_path, capsys):
    exp = tmp_path / "exp"
    _trial(exp, "trial_0", 0, [1, 2, 3])
    _trial(exp, "trial_1", 1, [2, 3])
    assert main(["report", str(exp), "--out", str(tmp_path / "elsewhere"), "--smooth", "2"]) == 0
    assert (tmp_path / "elsewhere" / "curves.png").stat().st_size > 10_000
    assert not (exp / "report").exists()


@pytest.mark.parametrize("command", ["report", "compare"])
def test_a_metric_no_trial_reports_is_an_error_not_an_empty_plot(tmp_path, capsys, command):
    exp = tmp_path / "exp"
    _trial(exp, "trial_0", 0, [1, 2, 3])
    args = [command, str(exp), "--metric", "env_runners/episode_return_mena"]
    if command == "compare":
        args += ["--out", str(tmp_path / "cmp")]
    assert main(args) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert "no trial reports 'env_runners/episode_return_mena'" in error
    assert "did you mean env_runners/episode_return_mean" in error
    assert not (tmp_path / "cmp").exists() and not (exp / "report").exists()
