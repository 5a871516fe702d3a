"""The resume command printed on Ctrl-C carries the run's --set overrides (a resumed run rebuilds its
configuration from the spec, so without them it would continue with other values)."""

from __future__ import annotations

import shlex
from pathlib import Path

from behaviorlab.platform.runner import ResultsLocation, resume_command, shrink_for_smoke
from behaviorlab.platform.spec import load_spec


def test_resume_command_repeats_the_overrides(tmp_path):
    file = tmp_path / "exp.yaml"
    file.write_text("algorithm: PPO\nenv: CartPole-v1\nstop: {env_steps: 1000}\n")
    overrides = ["config.lr=1e-3", "config.model_config={fcnet_hiddens: [64, 64]}"]
    spec = load_spec(file, overrides)
    assert spec.overrides == tuple(overrides) and load_spec(file).overrides == ()
    smoke, _ = shrink_for_smoke(spec, cpus=2, gpus=0)
    assert smoke.overrides == tuple(overrides)
    results = ResultsLocation.parse(tmp_path / "results")
    command = resume_command(Path("exp.yaml"), results, "exp-2", smoke=True, address=None, overrides=smoke.overrides)
    assert shlex.split(command) == ["behaviorlab", "run", "exp.yaml", "--smoke", "--results-dir", results.uri,
                                    "--set", "config.lr=1e-3", "--set", "config.model_config={fcnet_hiddens: [64, 64]}",
                                    "--resume", "exp-2"]
