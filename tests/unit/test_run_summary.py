"""The end-of-run summary: the final metric's mean ± std over the seeds of each configuration, the
best configuration and the best trial (hand-computed values)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pyarrow.fs

from behaviorlab.platform.runner import _print_summary, mean_std_text
from behaviorlab.platform.spec import ExperimentSpec


def test_mean_std_text_uses_the_sample_std():
    # mean 20, deviations -10, 0, 10: sample variance 200 / 2 = 100
    assert mean_std_text([10.0, 20.0, 30.0]) == "20 ± 10 over 3 seeds (min 10, max 30)"
    assert mean_std_text([7.5]) == "7.5 (1 seed)"


class _Grid(list):
    errors: list = []


def _result(tmp_path, name: str, config: dict, returns: list[float]):
    trial = tmp_path / name
    trial.mkdir(parents=True)
    rows = [{"training_iteration": i + 1, "num_env_steps_sampled_lifetime": 100 * (i + 1),
             "env_runners": {"episode_return_mean": value}} for i, value in enumerate(returns)]
    (trial / "result.json").write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    return SimpleNamespace(filesystem=pyarrow.fs.LocalFileSystem(), path=str(trial), config=config)


def test_summary_groups_trials_by_configuration_over_seeds(tmp_path, capsys):
    spec = ExperimentSpec(name="exp", algorithm="PPO", env="CartPole-v1", stop={"env_steps": 1000},
                          seeds=[0, 1], logging={"wandb": {"mode": "disabled"}})
    grid = _Grid([_result(tmp_path, "trial_00000_seed=0", {"lr": 0.001, "seed": 0}, [5.0, 10.0]),
                  _result(tmp_path, "trial_00001_seed=1", {"lr": 0.001, "seed": 1}, [30.0]),
                  _result(tmp_path, "trial_00002_seed=0", {"lr": 0.01, "seed": 0}, [40.0]),
                  _result(tmp_path, "trial_00003_seed=1", {"lr": 0.01, "seed": 1}, [float("nan"), 50.0])])
    _print_summary(spec, str(tmp_path), grid, remote=False)
    out = capsys.readouterr().out
    assert "lr=0.001: final episode_return_mean = 20 ± 14.1 over 2 seeds (min 10, max 30)" in out
    assert "lr=0.01: final episode_return_mean = 45 ± 7.07 over 2 seeds (min 40, max 50)" in out
    assert "best configuration: lr=0.01 (final episode_return_mean 45, mean of 2 trial(s))" in out
    assert "best trial: trial_00003_seed=1  final episode_return_mean = 50" in out


def test_summary_over_an_env_grid_names_no_best_and_says_when_nothing_was_reported(tmp_path, capsys):
    spec = ExperimentSpec(name="exp", algorithm="PPO", env={"grid_search": ["CartPole-v1", "Acrobot-v1"]},
                          stop={"env_steps": 1000}, logging={"wandb": {"mode": "disabled"}})
    grid = _Grid([_result(tmp_path, "trial_00000_seed=0", {"env": "CartPole-v1", "seed": 0}, [40.0]),
                  _result(tmp_path, "trial_00001_seed=0", {"env": "Acrobot-v1", "seed": 0}, [-500.0])])
    _print_summary(spec, str(tmp_path), grid, remote=False)
    out = capsys.readouterr().out
    assert "env=CartPole-v1: final episode_return_mean = 40 (1 seed)" in out
    assert "env=Acrobot-v1: final episode_return_mean = -500 (1 seed)" in out and "best" not in out
    nothing = _Grid([_result(tmp_path / "b", "trial_00000_seed=0", {"seed": 0}, [float("nan")])])
    _print_summary(spec.model_copy(update={"env": "CartPole-v1"}), str(tmp_path / "b"), nothing, remote=False)
    assert "no trial reported episode_return_mean" in capsys.readouterr().out
