"""The life of a `behaviorlab run` through the real CLI: interrupted by SIGINT/SIGTERM and resumed
with the printed command, runs started at once, names and results directories refused, an
unreachable cluster, and the ports an embedded Ray listens on."""

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from behaviorlab.platform.report import read_results

from .conftest import REPO, cli_env

pytestmark = pytest.mark.integration

SPEC = """\
algorithm: PPO
env: CartPole-v1
config: {{train_batch_size_per_learner: 500, minibatch_size: 250, num_epochs: 2, min_time_s_per_iteration: {seconds}}}
resources: {{num_env_runners: 1}}
logging: {{wandb: {{mode: {wandb}}}, tensorboard: false}}
stop: {{iterations: {iterations}}}
checkpoint: {{every: 1}}
"""
CLI = [sys.executable, "-m", "behaviorlab.platform.cli"]
STOP_WITHIN_S = 30  # the run's own budget is 12 s; CI machines are slow
# Iterations of at least a second: on a fast machine six plain ones took 4 s and ended before the
# signal was sent.
SIGNALLED = {"iterations": 12, "seconds": 1}


def _write_spec(tmp_path: Path, name: str, wandb: str = "disabled", iterations: int = 6, seconds: int = 0) -> Path:
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(SPEC.format(wandb=wandb, iterations=iterations, seconds=seconds))
    return spec


def _rows(exp_dir: Path) -> list[int]:
    (trial,) = exp_dir.glob("trial_*")
    return [int(row["training_iteration"]) for row in read_results(trial)] if (trial / "result.json").exists() else []


def _listening(pid: int) -> set[str]:
    """Addresses that the process and all its descendants (Ray's GCS, raylet, workers) listen on."""
    addresses = set()
    for process in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
        try:
            addresses |= {c.laddr.ip for c in process.net_connections("tcp") if c.status == psutil.CONN_LISTEN}
        except psutil.Error:
            pass
    return addresses


def _start_and_signal(spec: Path, env: dict, rows: int, sig: int, whole_group: bool):
    """Run `spec`, send `sig` once `rows` iterations are logged; (process, seconds to exit, output,
    listening addresses seen while it ran)."""
    exp_dir = Path(env["BEHAVIORLAB_RESULTS"]) / spec.stem
    proc = subprocess.Popen([*CLI, "run", str(spec)], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while not (exp_dir.is_dir() and list(exp_dir.glob("trial_*")) and len(_rows(exp_dir)) >= rows):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()[-3000:]
            time.sleep(0.2)
        listening = _listening(proc.pid)
        sent = time.monotonic()
        (os.killpg if whole_group else os.kill)(proc.pid, sig)
        proc.wait(timeout=120)
        return proc, time.monotonic() - sent, proc.stdout.read(), listening
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _resume_as_printed(output: str, env: dict) -> subprocess.CompletedProcess:
    line = output.splitlines()[output.splitlines().index(next(l for l in output.splitlines()
                                                              if l.startswith("interrupted;"))) + 1]
    command = shlex.split(line)
    assert command[:2] == ["behaviorlab", "run"] and "--results-dir" in command and "--resume" in command, line
    return subprocess.run([*CLI, *command[1:]], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def test_ctrl_c_with_wandb_stops_in_seconds_and_the_printed_command_resumes(tmp_path):
    """SIGINT to the process group (a terminal's Ctrl-C), wandb offline (the default): it used to
    hang > 150 s in wandb's cleanup and exit 0 with a normal summary."""
    env = cli_env(tmp_path / "results")
    spec = _write_spec(tmp_path, "ctrlc", wandb="offline", **SIGNALLED)
    proc, seconds, output, listening = _start_and_signal(spec, env, rows=2, sig=signal.SIGINT, whole_group=True)
    assert proc.returncode == 130, output[-3000:]
    assert seconds < STOP_WITHIN_S, (seconds, output[-3000:])
    assert "results:" not in output and "best trial" not in output  # not a normal summary
    exp_dir = tmp_path / "results" / "ctrlc"
    before = _rows(exp_dir)
    assert len(before) >= 2

    resumed = _resume_as_printed(output, env)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-3000:]
    assert _rows(exp_dir) == list(range(1, SIGNALLED["iterations"] + 1))  # rows before the interrupt kept, none missing
    first_resumed = int(next(l for l in resumed.stdout.splitlines() if "| iter" in l).split("| iter")[1].split()[0])
    assert first_resumed > 1  # from the checkpoint, not from the start
    assert list(exp_dir.glob("trial_*/wandb/offline-run-*/run-*.wandb"))
    # An embedded Ray listens on loopback only (it listened on every interface).
    assert listening and listening <= {"127.0.0.1", "::ffff:127.0.0.1", "::1"}, listening


def test_sigterm_to_the_driver_exits_143_without_a_stack_dump(tmp_path):
    env = cli_env(tmp_path / "results")
    spec = _write_spec(tmp_path, "term", **SIGNALLED)
    proc, seconds, output, _ = _start_and_signal(spec, env, rows=1, sig=signal.SIGTERM, whole_group=False)
    assert proc.returncode == 143, output[-3000:]
    assert seconds < STOP_WITHIN_S, (seconds, output[-3000:])
    assert "SIGTERM received" not in output and "PC: @" not in output  # Ray's C++ failure handler
    assert "continue with:" in output and "results:" not in output


def test_runs_started_together_get_their_own_directories(tmp_path, run_cli):
    spec = _write_spec(tmp_path, "twice", iterations=1)
    env = cli_env(run_cli.results)
    procs = [subprocess.Popen([*CLI, "run", str(spec)], cwd=REPO, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [proc.communicate(timeout=300)[0] for proc in procs]
    targets = sorted(line.rsplit("/", 1)[-1] for out in outputs for line in out.splitlines() if " → " in line)
    assert targets == ["twice", "twice-2"], outputs  # chosen and created before Ray starts
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    assert sorted(p.name for p in run_cli.results.iterdir()) == ["twice", "twice-2"]
    assert _rows(run_cli.results / "twice") == [1] and _rows(run_cli.results / "twice-2") == [1]


@pytest.mark.parametrize("option, name", [("--name", "../outside"), ("--name", "a/b"), ("--resume", "../outside")])
def test_names_on_the_command_line_follow_the_spec_rule(run_cli, tmp_path, option, name):
    spec = _write_spec(tmp_path, "named")
    proc = run_cli("run", spec, option, name, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"error: {spec}:{option}:"), line
    assert not run_cli.results.exists() and not (tmp_path / "outside").exists()


def test_results_dir_that_is_a_file_is_one_line_before_ray(run_cli, tmp_path):
    spec = _write_spec(tmp_path, "filedir")
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("keep me")
    for target in (blocker, blocker / "sub"):
        proc = run_cli("run", spec, "--results-dir", target, timeout=120)
        assert proc.returncode == 2, proc.stderr
        (line,) = proc.stderr.strip().splitlines()
        assert "--results-dir" in line and "is a file" in line and "behaviorlab:" not in proc.stdout, line
    assert blocker.read_text() == "keep me"


def test_address_where_nothing_listens_gives_up_with_one_line(run_cli, tmp_path):
    spec = _write_spec(tmp_path, "noaddr")
    start = time.monotonic()
    proc = run_cli("run", spec, "--address", "127.0.0.1:1", timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert time.monotonic() - start < 90  # 20 s of tries, plus start-up on a slow machine
    assert proc.stderr.strip().splitlines()[-1].startswith("error: cannot connect to Ray at 127.0.0.1:1"), proc.stderr
    assert "--resume" not in proc.stderr
    assert not (run_cli.results / "noaddr").exists()  # the reserved directory is not left behind
