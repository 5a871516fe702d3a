"""`behaviorlab validate` on many hostile files at once, through the real CLI: every file gets exactly
one line (the env's creator exiting does not end the command), nothing the files name is run, and the
exit code is 2 because some failed."""

import os
import time
from pathlib import Path

HERE = Path(__file__).parent

GOOD = "algorithm: PPO\nenv: CartPole-v1\nstop: {env_steps: 1000}\n"
HOSTILE_ENVS = """\
import sys


def exits(**kwargs):
    sys.exit(0)


def not_an_env(**kwargs):
    return 42
"""
BILLION_LAUGHS = "".join(
    f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10) if i else ', '.join(['lol'] * 10)}]\n" for i in range(10))


def test_validate_checks_every_hostile_file_and_runs_none_of_them(tmp_path, run_cli):
    marker = tmp_path / "os_system_ran"
    (tmp_path / "hostile_envs.py").write_text(HOSTILE_ENVS)
    (tmp_path / "exits_on_import.py").write_text("import sys\nsys.exit(3)\n")
    env = lambda entry: GOOD.replace("CartPole-v1", entry)  # noqa: E731
    # file name → (body, what its one line must say); bodies of bytes are written as they are
    cases = {
        "factory_exits": (env("hostile_envs:exits"), ":env_config: hostile_envs:exits cannot be built: SystemExit"),
        "module_exits": (env("exits_on_import:make"), ":env: importing module 'exits_on_import' raised SystemExit: 3"),
        "sys_exit": (env("sys:exit"), ":env: 'sys:exit' is a built-in or standard-library callable"),
        "os_system": (env("os:system") + f"env_config: {{command: 'touch {marker}'}}\n", ":env: 'os:system' is a built-in"),
        "not_an_env": (env("hostile_envs:not_an_env"), ":env: 'hostile_envs:not_an_env' returned a int"),
        "billion_laughs": (GOOD + BILLION_LAUGHS, ":line 8: more than 100,000 values once aliases are expanded"),
        "self_anchor": (GOOD + "config: &a {model_config: *a}\n", ":line 4: an anchor refers to itself"),
        "duplicate_key": (GOOD + "seeds: [0]\nseeds: [1]\n", ":line 5: duplicate key 'seeds' (first on line 4)"),
        "latin1": (GOOD.encode() + "name: café\n".encode("latin-1"), ":line 4: not UTF-8 text (byte 0xe9)"),
        "asha": (GOOD + "tune: {scheduler: {type: asha, max_t: -5}}\n", ":tune.scheduler.max_t: asha rejects its arguments"),
        "pbt": (GOOD + "tune: {scheduler: {type: pbt, perturbation_interval: 0, hyperparam_mutations: {lr: [0.1, 0.01]}}}\n",
                ":tune.scheduler.perturbation_interval: pbt rejects its arguments"),
        "long_name": (GOOD + "name: " + "n" * 300 + "\n", ":name: name is 300 characters long; use at most 100"),
        "seed": (GOOD + "seeds: [4294967296]\n", ":seeds: seed 4294967296 is outside 0..2147483647"),
        "batch": (GOOD + "config: {train_batch_size_per_learner: 1000000000000}\n",
                  ":config.train_batch_size_per_learner: batch size 1000000000000 is outside 1..100,000,000"),
        "unknown_field": (GOOD + "config: {zzzzqqq: 1}\n", ":config.zzzzqqq: PPOConfig has no field 'zzzzqqq'; none of the"),
        "empty": ("", ":(top level): the file is not a mapping of keys"),
    }
    files = []
    for name, (body, _) in cases.items():
        files.append(tmp_path / f"{name}.yaml")
        files[-1].write_bytes(body if isinstance(body, bytes) else body.encode())
    with open(tmp_path / "50mb.yaml", "wb") as big:  # sparse: 50 MB on paper, nothing on disk
        big.write(GOOD.encode())
        big.truncate(50 << 20)
    (tmp_path / "a_directory.yaml").mkdir()
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    others = {tmp_path / "50mb.yaml": ":(file): larger than 1 MiB",
              tmp_path / "a_directory.yaml": ":(file): cannot read: Is a directory",
              "/dev/zero": ":(file): larger than 1 MiB", "/dev/urandom": ":(file): larger than 1 MiB"}

    start = time.monotonic()
    proc = run_cli("validate", *files, *others, good,
                   extra_env={"PYTHONPATH": os.pathsep.join([str(tmp_path), str(HERE)])})
    seconds = time.monotonic() - start

    assert proc.returncode == 2, proc.stderr
    assert proc.stdout.splitlines() == [f"ok: {good} (PPO on CartPole-v1)"], proc.stdout
    lines = proc.stderr.strip().splitlines()
    expected = {str(file): words for file, (_, words) in zip(files, cases.values())} | {str(f): w for f, w in others.items()}
    assert len(lines) == len(expected), proc.stderr
    for line, (file, words) in zip(lines, expected.items()):
        assert line.startswith(f"error: {file}{words}"), (line, words)
        assert len(line) < 600 and "; " in line, line
    assert not marker.exists()
    assert seconds < 240, seconds
