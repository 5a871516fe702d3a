"""Spec validation: every malformed file gives one `file:key: problem; fix` line and exit code 2."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from behaviorlab.platform.cli import main
from behaviorlab.platform.spec import SpecError, load_spec, result_key

GOOD = """\
algorithm: PPO
env: CartPole-v1
stop: {env_steps: 1000}
"""

# (file body, key the message must name, words the message must contain)
MALFORMED = [
    ("algorithm: PPO\nenv: CartPole-v1\nstop: {env_steps: 1000\n", "line 4", "YAML syntax error"),
    ("algorithm: PPO\n  env: CartPole-v1\n", "line 2", "YAML syntax error"),
    ("- just\n- a list\n", "(top level)", "not a mapping"),
    (GOOD + "algoritm: PPO\n", "algoritm", "did you mean 'algorithm'"),
    (GOOD + "stopp: {}\n", "stopp", "did you mean 'stop'"),
    ("env: CartPole-v1\nstop: {env_steps: 1000}\n", "algorithm", "required key is missing"),
    ("algorithm: PPO\nenv: CartPole-v1\n", "stop", "required key is missing"),
    ("algorithm: PPO\nenv: CartPole-v1\nstop: {}\n", "stop", "no stop condition"),
    ("algorithm: PPX\nenv: CartPole-v1\nstop: {env_steps: 1}\n", "algorithm", "did you mean 'PPO'"),
    ("algorithm: PPO\nenv: CartPol-v1\nstop: {env_steps: 1}\n", "env", "did you mean 'CartPole-v1'"),
    ("algorithm: PPO\nenv: Nonsense\nstop: {env_steps: 1}\n", "env", "behaviorlab envs"),
    ("algorithm: PPO\nenv: no_such_module:Env\nstop: {env_steps: 1}\n", "env", "cannot import module"),
    (GOOD + "env_config: {sutton_barto_rewrd: true}\n", "env_config.sutton_barto_rewrd", "did you mean 'sutton_barto_reward'"),
    ("algorithm: PPO\nenv: ALE/Pong-v5\nstop: {env_steps: 1}\nenv_config: {frame_skip: 0}\n", "env_config", "frame_skip"),
    (GOOD + "config: {lrr: 0.1}\n", "config.lrr", "did you mean 'lr'"),
    (GOOD + "config: {num_env_runners: 2}\n", "config.num_env_runners", "resources.num_env_runners"),
    (GOOD + "config: {seed: 3}\n", "config.seed", "seeds"),
    (GOOD + "config: {lr: {grid_search: []}}\n", "config.lr.grid_search", "non-empty list"),
    (GOOD + "config: {lr: {uniform: [1, 0.1]}}\n", "config.lr.uniform", "not below"),
    (GOOD + "config: {lr: {loguniform: [0, 0.1]}}\n", "config.lr.loguniform", "low > 0"),
    (GOOD + "config: {lr: {uniform: [a, b]}}\n", "config.lr.uniform", "two finite numbers"),
    (GOOD + "config: {num_epochs: {randint: [1.5, 4]}}\n", "config.num_epochs.randint", "integers"),
    (GOOD + "config: {model_config: {fcnet_hiddens: {choice: 5}}}\n", "config.model_config.fcnet_hiddens.choice", "non-empty list"),
    (GOOD + "resources: {num_env_runners: -1}\n", "resources.num_env_runners", "greater than or equal to 0"),
    (GOOD + "resources: {num_env_runners: two}\n", "resources.num_env_runners", "valid integer"),
    (GOOD + "resources: {num_gpu_per_learner: 1}\n", "resources.num_gpu_per_learner", "did you mean 'num_gpus_per_learner'"),
    ("algorithm: PPO\nenv: CartPole-v1\nstop: {env_step: 5}\n", "stop.env_step", "did you mean 'env_steps'"),
    ("algorithm: PPO\nenv: CartPole-v1\nstop: {env_steps: -5}\n", "stop.env_steps", "positive"),
    ("algorithm: PPO\nenv: CartPole-v1\nstop: {env_steps: lots}\n", "stop.env_steps", "valid number"),
    (GOOD + "seeds: []\n", "seeds", "at least 1"),
    (GOOD + "seeds: [1, 1]\n", "seeds", "repeated"),
    (GOOD + "seeds: 3\n", "seeds", "valid list"),
    (GOOD + "name: 'bad name/'\n", "name", "not a valid name"),
    (GOOD + "tune: {mode: maximum}\n", "tune.mode", "'max' or 'min'"),
    (GOOD + "tune: {metric: retrun}\n", "tune.metric", "unknown metric"),
    (GOOD + "tune: {num_samples: 0}\n", "tune.num_samples", "greater than or equal to 1"),
    (GOOD + "tune: {scheduler: {type: hyperband2}}\n", "tune.scheduler.type", "fifo, asha, pbt, pb2"),
    (GOOD + "tune: {scheduler: {type: asha, grace_periodd: 3}}\n", "tune.scheduler.grace_periodd", "did you mean 'grace_period'"),
    (GOOD + "tune: {scheduler: {type: asha, metric: x}}\n", "tune.scheduler.metric", "tune.metric"),
    (GOOD + "tune: {scheduler: {type: pbt, perturbation_interval: 5}}\n", "tune.scheduler.hyperparam_mutations", "needs config fields"),
    (GOOD + "tune: {scheduler: {type: pbt, perturbation_interval: 5, hyperparam_mutations: {lrr: [0.1]}}}\n",
     "tune.scheduler.hyperparam_mutations.lrr", "did you mean 'lr'"),
    (GOOD + "checkpoint: {keep: 2}\ntune: {scheduler: {type: pbt, perturbation_interval: 5, hyperparam_mutations: {lr: [0.1, 0.01]}}}\n",
     "checkpoint.keep", "checkpoints kept"),
    (GOOD + "tune: {search: {type: bayes}}\n", "tune.search.type", "random, optuna"),
    (GOOD + "checkpoint: {every: -1}\n", "checkpoint.every", "greater than or equal to 0"),
    (GOOD + "checkpoint: {at_end: maybe}\n", "checkpoint.at_end", "valid boolean"),
    (GOOD + "logging: {wandb: {mode: sometimes}}\n", "logging.wandb.mode", "'offline', 'online' or 'disabled'"),
    (GOOD + "logging: {tensorbord: false}\n", "logging.tensorbord", "did you mean 'tensorboard'"),
    (GOOD + "config: {train_batch_size_per_learner: 100, minibatch_size: 500}\n", "config", "RLlib rejects"),
]


@pytest.mark.parametrize("body, key, words", MALFORMED, ids=[m[1] + ":" + m[2][:20] for m in MALFORMED])
def test_malformed_spec_gives_one_clear_line_and_exit_2(tmp_path, capsys, body, key, words):
    spec = tmp_path / "bad.yaml"
    spec.write_text(body)
    assert main(["validate", str(spec)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"error: {spec}:{key}: "), err
    assert words in err, err
    assert "; " in err  # what is wrong; how to fix


def test_run_with_bad_spec_starts_and_writes_nothing(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text(GOOD + "config: {lrr: 0.1}\n")
    results = tmp_path / "results"
    proc = subprocess.run([sys.executable, "-m", "behaviorlab.platform.cli", "run", str(spec), "--results-dir", str(results)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "config.lrr" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not results.exists()
    assert "Started a local Ray" not in proc.stderr + proc.stdout


def test_run_refuses_a_transfer_spec_whose_pre_training_run_is_missing(tmp_path):
    """`validate` accepts the shipped transfer spec; `run` names the missing checkpoint and starts nothing."""
    shipped = Path(__file__).parents[2] / "experiments" / "svg0_prior" / "pointmass_transfer.yaml"
    spec = tmp_path / "transfer.yaml"
    spec.write_text(shipped.read_text().replace("~/behaviorlab_results", str(tmp_path / "none")))
    load_spec(spec)
    results = tmp_path / "results"
    proc = subprocess.run([sys.executable, "-m", "behaviorlab.platform.cli", "run", str(spec), "--results-dir", str(results)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert f"{spec}:config.prior_checkpoint: " in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert "pointmass_nav.yaml" in proc.stderr and not results.exists()


def test_every_input_of_a_sweep_is_checked_before_the_run(tmp_path):
    """A grid over pre-trained priors: the second, missing one is named before anything starts."""
    from behaviorlab.platform.spec import check_inputs

    shipped = Path(__file__).parents[2] / "experiments" / "svg0_prior" / "pointmass_transfer.yaml"
    spec_file = tmp_path / "transfer_sweep.yaml"
    spec_file.write_text(shipped.read_text())
    spec = load_spec(spec_file)
    (tmp_path / "prior_a").mkdir()
    spec.config["prior_checkpoint"] = {"grid_search": [str(tmp_path / "prior_a"), str(tmp_path / "prior_b")]}
    with pytest.raises(SpecError, match="prior_b"):
        check_inputs(spec_file, spec)
    spec.config["prior_checkpoint"] = {"grid_search": [str(tmp_path / "prior_a")]}
    check_inputs(spec_file, spec)
    # a per-seed prior: the seed without one is named
    (tmp_path / "prior_s0").mkdir()
    spec.config["prior_checkpoint"], spec.seeds = str(tmp_path / "prior_s{seed}"), [0, 1]
    with pytest.raises(SpecError, match="prior_s1 is not a checkpoint directory"):
        check_inputs(spec_file, spec)


def test_valid_spec_defaults_and_yaml_floats(tmp_path):
    spec_file = tmp_path / "my-exp.yaml"
    spec_file.write_text(GOOD + textwrap.dedent("""\
        config: {lr: 3e-4, gamma: {grid_search: [0.9, 0.99]}}
        seeds: [0, 1, 2]
        """))
    spec = load_spec(spec_file)
    assert spec.name == "my-exp"  # default: the file stem
    assert spec.config["lr"] == pytest.approx(3e-4)  # YAML 1.1 alone would read "3e-4" as a string
    assert spec.seeds == [0, 1, 2]
    assert spec.resources.num_env_runners == 1 and spec.checkpoint.at_end is True
    assert spec.logging.wandb.mode is None  # online where a key is configured, else offline


def test_friendly_metric_names_map_to_tune_keys():
    assert result_key("env_steps") == "num_env_steps_sampled_lifetime"
    assert result_key("episode_return_mean") == "env_runners/episode_return_mean"
    assert result_key("time_s") == "time_total_s"
    assert result_key("iterations") == "training_iteration"
    assert result_key("learners/default_policy/total_loss") == "learners/default_policy/total_loss"


def test_validate_reports_every_file(tmp_path, capsys):
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(GOOD)
    bad.write_text(GOOD + "bogus: 1\n")
    assert main(["validate", str(good), str(bad)]) == 2
    out = capsys.readouterr()
    assert f"ok: {good}" in out.out
    assert f"{bad}:bogus" in out.err


def test_spec_error_format():
    assert str(SpecError("f.yaml", "a.b", "bad thing", "do this")) == "f.yaml:a.b: bad thing; do this"


def test_every_shipped_experiment_validates():
    from pathlib import Path

    files = sorted(str(p) for p in Path(__file__).parents[2].glob("experiments/**/*.yaml"))
    assert files
    for file in files:
        load_spec(file)
