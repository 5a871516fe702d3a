"""Mean curves over seeds, their band, and the report's options, through the real CLI (no Ray)."""

import numpy as np
import pytest
from matplotlib.colors import to_rgb

from behaviorlab.platform.cli import main
from behaviorlab.platform.report import (
    bootstrap_band,
    curve_matrix,
    held_curves,
    load_experiment,
    plot_mean_band,
    plot_mean_curves,
)

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


def test_held_curves_put_curves_with_their_own_x_on_one_grid_holding_both_ends():
    grid, values = held_curves([(np.array([1.0, 3.0]), np.array([10.0, 30.0])), ([2.0, 4.0], [0.0, 4.0])])
    assert grid == [1, 2, 3, 4]
    assert values.tolist() == [[10, 20, 30, 30], [0, 0, 2, 4]]


def test_bootstrap_band_leaves_a_trial_without_a_value_out_of_that_point():
    values = np.array([[1.0, 2.0], [3.0, 2.0], [np.nan, 2.0]])
    low, high = bootstrap_band(values)
    assert 1.0 <= low[0] < 2.0 < high[0] <= 3.0
    assert low[1] == high[1] == 2.0


def _axes():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots()


def test_mean_band_draws_the_nan_mean_labelled_with_n_and_a_band_only_over_several_seeds():
    fig, ax = _axes()
    assert plot_mean_band(ax, [1, 2], [[1.0, 2.0], [3.0, np.nan]], "A", color="tab:red") is True
    assert plot_mean_band(ax, [1, 2], [[5.0, 6.0]], "B") is False
    assert [line.get_label() for line in ax.lines] == ["A (n=2)", "B (n=1)"]
    assert ax.lines[0].get_ydata().tolist() == [2.0, 2.0]
    assert len(ax.collections) == 1  # A's band; one seed has none
    assert tuple(ax.collections[0].get_facecolor()[0][:3]) == to_rgb("tab:red")  # the band in its line's colour


def test_mean_curves_hold_a_trial_that_stopped_early_at_its_last_value(tmp_path):
    exp = tmp_path / "exp"
    _trial(exp, "trial_0", 0, [100, 475])
    _trial(exp, "trial_1", 1, [50, 200, 400, 480])
    fig, ax = _axes()
    assert plot_mean_curves(ax, [("ACER", load_experiment(exp).trials), ("none", [])],
                            "env_runners/episode_return_mean")
    (line,) = ax.lines
    assert line.get_xdata().tolist() == [1000, 2000, 3000, 4000]
    assert line.get_ydata().tolist() == [75, 337.5, 437.5, 477.5]


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
