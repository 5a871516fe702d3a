"""Reports from hand-written Tune result files: no Ray needed."""

import csv
import json

import pytest

from behaviorlab.platform.cli import main
from behaviorlab.platform.report import compare, load_experiment, report


def _trial(exp, name, seed, returns, lr=0.1, torn=False):
    trial = exp / name
    trial.mkdir(parents=True)
    (trial / "params.json").write_text(json.dumps({"seed": seed, "lr": lr}))
    lines = [json.dumps({"training_iteration": i + 1, "num_env_steps_sampled_lifetime": 1000 * (i + 1),
                         "time_total_s": 2.0 * (i + 1), "env_runners": {"episode_return_mean": r}})
             for i, r in enumerate(returns)]
    text = "\n".join(lines) + "\n"
    if torn:
        text += '{"training_iteration": 9, "num_env'  # a run killed mid-write
    (trial / "result.json").write_text(text)


def test_threshold_steps_and_seed_grouping(tmp_path):
    exp = tmp_path / "exp"
    _trial(exp, "trial_0", 0, [10, 50, 120, 200])
    _trial(exp, "trial_1", 1, [20, 110, 150, 180], torn=True)
    _trial(exp, "trial_2", 2, [5, 6, 7, 8])
    experiment = load_experiment(exp)
    assert list(experiment.groups()) == ["exp"]  # seeds alone do not split groups
    paths = report(exp, threshold=100)
    assert paths[0].name == "curves.png" and paths[0].stat().st_size > 10_000
    summary = (exp / "report" / "summary.csv").read_text().splitlines()
    header, row = summary[0].split(","), summary[1].split(",")
    values = dict(zip(header, row))
    assert values["reached 100"] == "2/3"
    assert float(values["env_steps_to_threshold"]) == pytest.approx((3000 + 2000) / 2)
    assert float(values["wall_s_to_threshold"]) == pytest.approx((6 + 4) / 2)
    assert float(values["final env_runners/episode_return_mean"]) == pytest.approx((200 + 180 + 8) / 3, rel=1e-3)


def test_resumed_iterations_replace_earlier_rows(tmp_path):
    exp = tmp_path / "exp"
    _trial(exp, "trial_0", 0, [1, 2, 3])
    with (exp / "trial_0" / "result.json").open("a") as file:  # iteration 3 re-run after a resume
        file.write(json.dumps({"training_iteration": 3, "num_env_steps_sampled_lifetime": 3000,
                               "env_runners": {"episode_return_mean": 30}}) + "\n")
    (trial,) = load_experiment(exp).trials
    assert [row["env_runners/episode_return_mean"] for row in trial.rows] == [1, 2, 30]


def test_compare_groups_by_varying_params(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    _trial(a, "t0", 0, [1, 2], lr=0.1)
    _trial(a, "t1", 0, [3, 4], lr=0.01)
    _trial(b, "t0", 0, [5, 6])
    compare([a, b], tmp_path / "out")
    table = (tmp_path / "out" / "compare.md").read_text()
    assert "lr=0.1" in table and "lr=0.01" in table and "| b |" in table


def test_report_on_a_directory_without_results_fails_clearly(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "no trial results" in capsys.readouterr().err


def _atari_experiment(path, algorithm, game, returns_by_seed):
    for seed, returns in enumerate(returns_by_seed):
        _trial(path, f"trial_{seed}", seed, returns)
    (path / "behaviorlab").mkdir()
    (path / "behaviorlab" / "spec.yaml").write_text(f"algorithm: {algorithm}\nenv: ALE/{game}-v5\n")


def test_compare_summarises_atari_runs_per_algorithm(tmp_path):
    # Pong: random −20.7, human 14.6, world record 21; Breakout: random 1.7, human 30.5, record 864.
    _atari_experiment(tmp_path / "lbc-pong", "LBC", "Pong", [[0, 21], [0, 21]])          # HNS (21+20.7)/35.3
    _atari_experiment(tmp_path / "lbc-breakout", "LBC", "Breakout", [[0, 10], [0, 20]])  # HNS (15−1.7)/28.8
    _atari_experiment(tmp_path / "appo-pong", "APPO", "Pong", [[0, -3.05]])             # HNS 0.5
    paths = compare([tmp_path / "lbc-pong", tmp_path / "lbc-breakout", tmp_path / "appo-pong"], tmp_path / "out")
    assert tmp_path / "out" / "atari.md" in paths
    rows = {row[0]: row for row in csv.reader((tmp_path / "out" / "atari.csv").read_text().splitlines())}
    assert rows["algorithm"] == ["algorithm", "games", "mean HNS %", "median HNS %", "IQM HNS % [95 % CI]", "seeds",
                                 "HWRB"]
    pong, breakout = 41.7 / 35.3, 13.3 / 28.8
    assert rows["LBC"][1] == "2" and rows["LBC"][5] == "2" and rows["LBC"][6] == "1"  # only Pong reaches its record
    assert float(rows["LBC"][2]) == pytest.approx(100 * (pong + breakout) / 2, abs=0.05)
    assert float(rows["LBC"][3]) == pytest.approx(100 * (pong + breakout) / 2, abs=0.05)
    assert rows["APPO"][1:] == ["1", "50.0", "50.0", "50.0 [50.0, 50.0]", "1", "0"]  # one run: no spread


def test_compare_writes_no_atari_table_for_other_envs(tmp_path):
    _trial(tmp_path / "a", "t0", 0, [1, 2])
    assert not any(p.name.startswith("atari") for p in compare([tmp_path / "a"], tmp_path / "out"))


def test_threshold_with_smoothing_needs_the_moving_average_to_reach_it():
    from behaviorlab.platform.report import STEPS_KEY, Trial

    key = "env_runners/episode_return_mean"
    returns = [0.5, 1.1, 0.4, 0.5, 1.0, 1.2, 1.3]  # one noisy spike, then a sustained rise
    trial = Trial("t", {}, [{STEPS_KEY: 1000 * (i + 1), key: r} for i, r in enumerate(returns)])
    assert trial.first_reaching(key, 1.0)[STEPS_KEY] == 2000  # the spike
    # Trailing means of 3: 0.5, 0.8, 0.67, 0.67, 0.63, 0.9, 1.17.
    assert trial.first_reaching(key, 1.0, smooth=3)[STEPS_KEY] == 7000
    assert trial.first_reaching(key, 1.2, smooth=3) is None
