"""`behaviorlab data collect --policy`: a real checkpoint's episodes into a dataset, and bad input
refused in one line with exit 2 and nothing written."""

from __future__ import annotations

import json
import os

import pytest

from tests.integration.conftest import REPO

pytestmark = pytest.mark.integration


def test_collect_records_the_policys_episodes_with_their_returns(trained_run, tmp_path, run_cli):
    out = tmp_path / "demos"
    # A path relative to the working directory (the CLI runs in the repository) loads as well.
    done = run_cli("data", "collect", "--policy", os.path.relpath(trained_run, REPO), "--env", "seals/CartPole-v0", "--episodes", 2,
                   "--out", out, "--actions", "sampled")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "2 episodes, 1,000 steps, mean return" in done.stdout
    metadata = json.loads((out / "metadata.json").read_text())
    attributes = metadata["attributes"]
    assert attributes["actions"] == "sampled" and attributes["env"] == "seals/CartPole-v0"
    assert len(attributes["episode_returns"]) == 2
    assert attributes["mean_return"] == pytest.approx(sum(attributes["episode_returns"]) / 2, abs=1e-3)
    assert "/checkpoint_" in attributes["policy"] and metadata["created_by"].startswith("behaviorlab data collect")
    info = run_cli("data", "info", out)
    assert info.returncode == 0
    assert "episodes:     2" in info.stdout and "steps:        1,000" in info.stdout and "mean_return=" in info.stdout


@pytest.mark.parametrize("case", ["no checkpoint", "spaces differ", "out not empty", "unknown env"])
def test_bad_input_is_one_line_exit_2_and_nothing_written(case, trained_run, tmp_path, run_cli):
    out = tmp_path / "demos"
    policy, env = trained_run, "seals/CartPole-v0"
    if case == "no checkpoint":
        policy = tmp_path / "empty_run"
        policy.mkdir()
    elif case == "spaces differ":
        env = "Pendulum-v1"
    elif case == "unknown env":
        env = "seals/CartPole-v9"
    else:
        out.mkdir()
        (out / "notes.txt").write_text("mine")
    done = run_cli("data", "collect", "--policy", policy, "--env", env, "--episodes", 1, "--out", out)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    expected = {"no checkpoint": "holds no checkpoint", "spaces differ": "differs from the policy's",
                "out not empty": "already exists and is not empty", "unknown env": "did you mean 'seals/CartPole-v0'"}
    assert expected[case] in lines[0]
    if case == "out not empty":
        assert [p.name for p in out.iterdir()] == ["notes.txt"]
    else:
        assert not out.exists()
