"""`env: {grid_search: [...]}`: one trial per env (x seed x grid point), each env validated at spec
load, --smoke on the first env, and reports grouped by env with one HNS table over Atari games."""

from __future__ import annotations

import json

import pytest

from behaviorlab.platform.report import report
from behaviorlab.platform.runner import build_algorithm_config, shrink_for_smoke
from behaviorlab.platform.spec import SpecError, load_spec

BASE = "algorithm: PPO\nstop: {env_steps: 1000}\nseeds: [0, 1]\n"


def _spec(tmp_path, env: str, extra: str = "", overrides=()):
    file = tmp_path / "exp.yaml"
    file.write_text(BASE + f"env: {env}\n" + extra)
    return load_spec(file, overrides)


def test_an_env_grid_becomes_a_tune_grid_and_smoke_takes_its_first_env(tmp_path):
    spec = _spec(tmp_path, "{grid_search: [CartPole-v1, Acrobot-v1]}")
    assert spec.envs == ["CartPole-v1", "Acrobot-v1"] and spec.env_label == "2 envs (CartPole-v1, Acrobot-v1)"
    config = build_algorithm_config(spec)
    assert config.env == {"grid_search": ["CartPole-v1", "Acrobot-v1"]} and config.seed == {"grid_search": [0, 1]}
    smoke, _ = shrink_for_smoke(spec, cpus=2, gpus=0)
    assert smoke.env == "CartPole-v1" and build_algorithm_config(smoke).env == "CartPole-v1"
    single = _spec(tmp_path, "CartPole-v1")
    assert single.envs == ["CartPole-v1"] and build_algorithm_config(single).env == "CartPole-v1"


def test_an_env_grid_by_override(tmp_path):
    spec = _spec(tmp_path, "CartPole-v1", overrides=["env={grid_search: [Acrobot-v1, CartPole-v1]}"])
    assert spec.envs == ["Acrobot-v1", "CartPole-v1"]


@pytest.mark.parametrize("env, extra, key, message", [
    ("{grid_search: [CartPole-v1, CartPol-v1]}", "", "env.grid_search.1", "did you mean 'CartPole-v1'"),
    ("{grid: [CartPole-v1]}", "", "env", "neither an env id nor a grid"),
    ("{grid_search: []}", "", "env", "neither an env id nor a grid"),
    ("{grid_search: [CartPole-v1, 3]}", "", "env", "neither an env id nor a grid"),
    ("{grid_search: [CartPole-v1, CartPole-v1]}", "", "env.grid_search", "repeated env ids"),
    ("{grid_search: [CartPole-v1, MountainCarContinuous-v0]}", "env_config: {goal_velocity: 0.1}\n",
     "env_config.goal_velocity", "CartPole-v1 does not accept 'goal_velocity'"),
])
def test_a_bad_env_grid_is_one_line_naming_the_key(tmp_path, env, extra, key, message):
    with pytest.raises(SpecError) as error:
        _spec(tmp_path, env, extra)
    assert error.value.key == key and message in str(error.value)


def _trial(exp, name, env, seed, final):
    trial = exp / name
    trial.mkdir(parents=True)
    (trial / "params.json").write_text(json.dumps({"env": env, "seed": seed}))
    rows = [{"training_iteration": i + 1, "num_env_steps_sampled_lifetime": 1000 * (i + 1), "time_total_s": 1.0 + i,
             "env_runners": {"episode_return_mean": value}} for i, value in enumerate([0.0, final])]
    (trial / "result.json").write_text("\n".join(json.dumps(row) for row in rows) + "\n")


def test_report_of_an_atari_env_grid_has_one_hns_table(tmp_path):
    exp = tmp_path / "lbc-atari"
    (exp / "behaviorlab").mkdir(parents=True)
    (exp / "behaviorlab" / "spec.yaml").write_text(
        "algorithm: LBC\nenv: {grid_search: [ALE/Pong-v5, ALE/Breakout-v5]}\nstop: {env_steps: 2000}\n")
    # Pong: random -20.7, human 14.6; Breakout: random 1.7, human 30.5
    _trial(exp, "trial_0", "ALE/Pong-v5", 0, 14.0)
    _trial(exp, "trial_1", "ALE/Pong-v5", 1, 15.2)   # mean 14.6: HNS 100 %
    _trial(exp, "trial_2", "ALE/Breakout-v5", 0, 16.1)
    _trial(exp, "trial_3", "ALE/Breakout-v5", 1, 16.1)  # HNS 50 %
    report(exp)
    summary = (exp / "report" / "summary.md").read_text()
    assert "env=ALE/Pong-v5" in summary and "env=ALE/Breakout-v5" in summary and "| 100.0 |" in summary
    atari = (exp / "report" / "atari.md").read_text().splitlines()
    assert atari[0] == "| algorithm | games | mean HNS % | median HNS % | IQM HNS % [95 % CI] | seeds | HWRB |"
    assert atari[2].startswith("| LBC | 2 | 75.0 | 75.0 | ") and atari[2].endswith(" | 2 | 0 |")


def test_validate_through_the_cli(tmp_path, capsys):
    from behaviorlab.platform.cli import main

    file = tmp_path / "exp.yaml"
    file.write_text(BASE + "env: {grid_search: [CartPole-v1, Acrobot-v1]}\n")
    assert main(["validate", str(file)]) == 0
    assert capsys.readouterr().out == f"ok: {file} (PPO on 2 envs (CartPole-v1, Acrobot-v1))\n"
    assert main(["validate", str(file), "--set", "env={grid_search: [CartPole-v1, Acrobat-v1]}"]) == 2
    assert capsys.readouterr().err == (f"error: {file}:--set env.grid_search.1: unknown env 'Acrobat-v1'; did you mean "
                                       "'Acrobot-v1'? (or give a 'package.module:Factory' import path)\n")
