"""Hostile or broken spec files: each ends in one `file:key: problem; fix` line and exit code 2, quickly,
without running what the file names or walking what its aliases expand to."""

import textwrap
import time

import pytest

from behaviorlab.envs import EnvConfigError, make_env
from behaviorlab.platform.cli import main
from behaviorlab.platform.spec import MAX_SUGGESTIONS, SpecError, load_spec

GOOD = "algorithm: PPO\nenv: CartPole-v1\nstop: {env_steps: 1000}\n"
BILLION_LAUGHS = "".join(
    f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10) if i else ', '.join(['lol'] * 10)}]\n" for i in range(10))

# A user module whose creators misbehave: imported by `env: hostile_envs:NAME`.
HOSTILE_ENVS = """\
import sys

import gymnasium as gym


def exits(**kwargs):
    sys.exit(0)


def not_an_env(**kwargs):
    return 42


def base_exception(**kwargs):
    raise GeneratorExit("not an Exception")


class NotAnEnv:
    pass


def cartpole(**kwargs):
    return gym.make("CartPole-v1", **kwargs)
"""

# (file body, key the message must name, words the message must contain)
HOSTILE = [
    # env import paths (item 9)
    (GOOD.replace("CartPole-v1", "sys:exit"), "env", "built-in or standard-library"),
    (GOOD.replace("CartPole-v1", "os:system") + "env_config: {command: 'exit 3'}\n", "env", "built-in or standard-library"),
    (GOOD.replace("CartPole-v1", "builtins:eval"), "env", "built-in or standard-library"),
    (GOOD.replace("CartPole-v1", "shutil:rmtree") + "env_config: {path: /nonexistent}\n", "env", "standard-library"),
    (GOOD.replace("CartPole-v1", "subprocess:Popen"), "env", "does not subclass gymnasium.Env"),
    (GOOD.replace("CartPole-v1", "sys:argv"), "env", "is a list, not a class or function"),
    (GOOD.replace("CartPole-v1", "hostile_envs:NotAnEnv"), "env", "does not subclass gymnasium.Env"),
    (GOOD.replace("CartPole-v1", "hostile_envs:exits"), "env_config", "SystemExit"),
    (GOOD.replace("CartPole-v1", "hostile_envs:base_exception"), "env_config", "GeneratorExit: not an Exception"),
    (GOOD.replace("CartPole-v1", "hostile_envs:not_an_env"), "env", "returned a int, not a gymnasium.Env"),
    # YAML (item 10)
    (GOOD + BILLION_LAUGHS, "line 8", "more than 100,000 values once aliases are expanded"),
    (GOOD + "config: &a {model_config: *a}\n", "line 4", "an anchor refers to itself"),
    (GOOD + "seeds: &s [0, *s]\n", "line 4", "an anchor refers to itself"),
    (GOOD + "config: {lr: 0.1}\nconfig: {lr: 0.2}\n", "line 5", "duplicate key 'config' (first on line 4)"),
    (GOOD + "config: {lr: 0.1, lr: 0.2}\n", "line 4", "duplicate key 'lr'"),
    (GOOD + "x: " + "[" * 1000 + "]" * 1000 + "\n", "line 4", "nested more than 64 levels deep"),
    (GOOD + "checkpoint: {every: 1" + "0" * 5000 + "}\n", "line 4", "an integer of 5,001 digits"),
    (GOOD + "x: !!python/object/apply:os.system ['exit 3']\n", "line 4", "could not determine a constructor"),
    (GOOD + '"algorithm2\\e[2J\\nX": 1\n', "algorithm2\\x1b[2J\\nX", "did you mean 'algorithm'"),
    ("", "(top level)", "not a mapping"),
    ("# only a comment\n", "(top level)", "not a mapping"),
    ("just a string\n", "(top level)", "not a mapping"),
    (GOOD + "---\n" + GOOD, "line 4", "YAML syntax error"),
    # values Ray would refuse only after it started (item 11)
    (GOOD + "tune: {scheduler: {type: asha, max_t: -5}}\n", "tune.scheduler.max_t", "asha rejects its arguments"),
    (GOOD + "tune: {scheduler: {type: asha, grace_period: 0}}\n", "tune.scheduler.grace_period", "must be positive"),
    (GOOD + "tune: {scheduler: {type: asha, reduction_factor: 1}}\n", "tune.scheduler.reduction_factor", "asha rejects"),
    (GOOD + "tune: {scheduler: {type: asha, grace_period: 50, max_t: 10}}\n", "tune.scheduler", "grace_period must be <= max_t"),
    (GOOD + "tune: {scheduler: {type: asha, max_t: lots}}\n", "tune.scheduler.max_t", "asha rejects"),
    (GOOD + "tune: {scheduler: {type: asha, brackets: 1000000000}}\n", "tune.scheduler", "rungs"),
    (GOOD + "tune: {scheduler: {type: asha, max_t: 1000000, reduction_factor: 1.0000001}}\n", "tune.scheduler", "rungs"),
    (GOOD + "tune: {scheduler: {type: pbt, perturbation_interval: -1, hyperparam_mutations: {lr: [0.1, 0.01]}}}\n",
     "tune.scheduler.perturbation_interval", "positive number"),
    (GOOD + "tune: {scheduler: {type: pbt, quantile_fraction: 0.9, hyperparam_mutations: {lr: [0.1, 0.01]}}}\n",
     "tune.scheduler.quantile_fraction", "between 0 and"),
    (GOOD + "name: " + "a" * 300 + "\n", "name", "name is 300 characters long"),
    (GOOD + "name: 实验\n", "name", "not a valid name"),
    (GOOD + "seeds: [4294967296]\n", "seeds", "seed 4294967296 is outside 0..2147483647"),
    (GOOD + "seeds: [0, -1]\n", "seeds", "seed -1 is outside"),
    (GOOD + "seeds: [1.5]\n", "seeds.0", "valid integer"),
    (GOOD + "config: {train_batch_size_per_learner: 1000000000000}\n", "config.train_batch_size_per_learner",
     "batch size 1000000000000 is outside 1..100,000,000"),
    (GOOD + "config: {train_batch_size_per_learner: {grid_search: [4000, 1.0e+12]}}\n",
     "config.train_batch_size_per_learner", "outside 1..100,000,000"),
    (GOOD + "config: {minibatch_size: -4}\n", "config.minibatch_size", "batch size -4 is outside"),
    (GOOD + "config: {train_batch_size_per_learner: 100, minibatch_size: 500}\n", "config", "RLlib rejects"),
    (GOOD + "config: {lr: .nan}\n", "config.lr", "NaN is not a value"),
    (GOOD + "config: {lr: {choice: [0.1, .nan]}}\n", "config.lr", "NaN is not a value"),
    (GOOD.replace("1000}", ".inf}"), "stop.env_steps", "not a finite number"),
    (GOOD.replace("1000}", "1e999}"), "stop.env_steps", "not a finite number"),
    (GOOD.replace("CartPole-v1", "5"), "env", "valid string"),
    (GOOD + "config: [1, 2]\n", "config", "valid dictionary"),
    (GOOD + "config: {zzzzqqq: 1}\n", "config.zzzzqqq", "none of the"),
    (GOOD + "config: {学习率: 0.1}\n", "config.学习率", "none of the"),
    (GOOD.replace("PPO", "x" * 100_000), "algorithm", "characters)"),
]


@pytest.fixture
def hostile_envs(tmp_path, monkeypatch):
    (tmp_path / "hostile_envs.py").write_text(HOSTILE_ENVS)
    monkeypatch.syspath_prepend(str(tmp_path))


@pytest.mark.parametrize("body, key, words", HOSTILE, ids=[f"{i}:{h[1][:30]}:{h[2][:25]}" for i, h in enumerate(HOSTILE)])
def test_hostile_spec_gives_one_clear_line_and_exit_2(tmp_path, capsys, hostile_envs, body, key, words):
    spec = tmp_path / "bad.yaml"
    spec.write_text(body)
    start = time.monotonic()
    assert main(["validate", str(spec)]) == 2
    assert time.monotonic() - start < 60
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and len(err) < 800, err
    assert err.startswith(f"error: {spec}:{key}: "), err
    assert words in err, err
    assert "; " in err


@pytest.mark.parametrize("data, key, words", [
    (GOOD.encode() + "name: café\n".encode("latin-1"), "line 4", "not UTF-8 text (byte 0xe9)"),
    (GOOD.encode() + b"x: '\0'\n", "(file)", "unacceptable character #x0000"),
    (b"\xff\xfe" + GOOD.encode("utf-16-le"), "line 1", "not UTF-8"),
    (GOOD.encode() + b"x: '" + b"a" * (2 << 20) + b"'\n", "(file)", "larger than 1 MiB"),
])
def test_undecodable_or_oversized_file(tmp_path, capsys, data, key, words):
    spec = tmp_path / "bad.yaml"
    spec.write_bytes(data)
    assert main(["validate", str(spec)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"error: {spec}:{key}: ") and words in err, err


@pytest.mark.parametrize("path, words", [("/dev/zero", "larger than 1 MiB"), ("/dev/urandom", "larger than 1 MiB"),
                                         ("/nonexistent/spec.yaml", "No such file")])
def test_devices_and_missing_files_do_not_hang(capsys, path, words):
    assert main(["validate", path]) == 2
    assert words in capsys.readouterr().err


def test_a_directory_is_not_a_spec(tmp_path, capsys):
    assert main(["validate", str(tmp_path)]) == 2
    assert f"error: {tmp_path}:(file): cannot read: Is a directory" in capsys.readouterr().err


def test_billion_laughs_is_refused_before_it_is_walked(tmp_path):
    spec = tmp_path / "bomb.yaml"
    spec.write_text(GOOD + BILLION_LAUGHS + "config: {model_config: {fcnet_hiddens: *l9}}\n")
    start = time.monotonic()
    with pytest.raises(SpecError, match="once aliases are expanded"):
        load_spec(spec)
    assert time.monotonic() - start < 5


def test_aliases_and_merge_keys_still_work(tmp_path):
    spec = tmp_path / "aliases.yaml"
    spec.write_text(GOOD + "seeds: &s [0, 1]\nlogging: {wandb: {tags: [a, b]}}\n"
                    "config:\n  <<: {lr: 0.001, gamma: 0.9}\n  gamma: 0.95\n")
    spec_ = load_spec(spec)
    assert spec_.config == {"lr": 0.001, "gamma": 0.95} and spec_.seeds == [0, 1]


def test_a_utf8_bom_and_a_huge_num_samples_are_fine(tmp_path):
    spec = tmp_path / "bom.yaml"
    spec.write_bytes(b"\xef\xbb\xbf" + GOOD.encode() + b"tune: {num_samples: 1000000000}\n")
    assert load_spec(spec).tune.num_samples == 10**9


def test_did_you_mean_names_a_handful_at_most(tmp_path, capsys):
    spec = tmp_path / "bad.yaml"
    spec.write_text(GOOD + "config: {num_env_runner: 1}\n")
    assert main(["validate", str(spec)]) == 2
    err = capsys.readouterr().err.strip()
    assert "did you mean '" in err and err.count("'") <= 2 * (MAX_SUGGESTIONS + 1) + 2, err
    assert len(err) < 400, err


def test_os_system_is_never_called(tmp_path, capsys):
    marker = tmp_path / "ran"
    spec = tmp_path / "system.yaml"
    spec.write_text(GOOD.replace("CartPole-v1", "os:system") + f"env_config: {{command: 'touch {marker}'}}\n")
    assert main(["validate", str(spec)]) == 2
    assert not marker.exists()


def test_factories_from_user_modules_still_build(hostile_envs):
    env = make_env("hostile_envs:cartpole", {"max_episode_steps": 5})
    env.close()
    with pytest.raises(EnvConfigError, match="returned a int"):
        make_env("hostile_envs:not_an_env")
