"""`behaviorlab eval`: a real run's policy played through the CLI, with mp4 videos; bad input in one line."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.integration


def test_eval_plays_the_runs_policy_and_writes_one_mp4_per_episode(trained_run, tmp_path, run_cli):
    videos = tmp_path / "videos"
    done = run_cli("eval", trained_run, "--episodes", 2, "--deterministic", "--video", videos, "--seed", 4)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "/checkpoint_" in done.stdout and "env: CartPole-v1: the env and env_config the policy was trained" in done.stdout
    assert re.search(r"2 episodes \(seeds 4\.\.5, greedy actions\): return \d+\.\d\d ± \d+\.\d\d", done.stdout)
    assert sorted(p.name for p in videos.iterdir()) == ["eval-episode-0.mp4", "eval-episode-1.mp4"]
    empty = tmp_path / "empty"
    empty.mkdir()
    refused = run_cli("eval", empty)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "holds no checkpoint" in refused.stderr
