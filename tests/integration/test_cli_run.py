"""Real runs through the `behaviorlab` CLI in a subprocess (embedded local Ray)."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from behaviorlab.platform.report import read_results

from .conftest import REPO, cli_env

pytestmark = pytest.mark.integration

# Small batches so each iteration takes a second or two on 2 cores.
SMALL_PPO = """\
algorithm: PPO
env: {env}
config: {{train_batch_size_per_learner: 500, minibatch_size: 250, num_epochs: 2}}
resources: {{num_env_runners: 1}}
logging: {{wandb: {{mode: disabled}}, tensorboard: false}}
"""


def _rows(trial_dir: Path) -> list[dict]:
    return read_results(trial_dir) if (trial_dir / "result.json").exists() else []


class RequestTrap:
    """A local TCP listener that records the start of every request it receives. wandb's server
    and the HTTP(S) proxies point here, so any network use shows up in `requests`."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.requests: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        while not self._stop.is_set():
            try:
                connection, _ = self.sock.accept()
            except TimeoutError:
                continue
            connection.settimeout(2)
            try:
                self.requests.append(connection.recv(512))
            except OSError:
                self.requests.append(b"")
            connection.close()

    def close(self):
        self._stop.set()
        self._thread.join()
        self.sock.close()


def test_smoke_run_records_everything_and_reports(run_cli, tmp_path):
    network = RequestTrap()
    trap = {"WANDB_BASE_URL": network.url, "HTTP_PROXY": network.url, "HTTPS_PROXY": network.url,
            "NO_PROXY": "localhost,127.0.0.1"}
    proc = run_cli("run", "experiments/ppo/cartpole.yaml", "--smoke", extra_env=trap)
    network.close()
    # Direct requests to the base URL, or proxied ones naming wandb. (Ray's usage statistics probe
    # cloud metadata addresses through the proxy; that is Ray's, not wandb's.)
    to_wandb = [r for r in network.requests if b"wandb" in r.lower() or b"Host: 127.0.0.1" in r]
    assert not to_wandb, f"offline wandb reached for the network: {to_wandb}"
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [line for line in proc.stdout.splitlines() if "| iter" in line]
    assert len(lines) == 2, proc.stdout  # one concise line per iteration
    assert "env steps" in lines[0] and "steps/s" in lines[0] and "return" in lines[0]
    assert "Configuration for experiment" not in proc.stdout  # not Ray's default tables
    exp_dir = run_cli.results / "ppo-cartpole-smoke"
    assert f"results: {exp_dir}" in proc.stdout and "best trial:" in proc.stdout
    (trial,) = [p for p in exp_dir.iterdir() if p.name.startswith("trial_")]
    assert trial.name == "trial_00000_seed=0"
    assert len(_rows(trial)) == 2
    assert list(trial.glob("checkpoint_*")), "checkpoint at end"
    assert list(trial.glob("wandb/offline-run-*/run-*.wandb")), "wandb logs offline by default, per trial"
    assert "wandb sync" in proc.stdout
    run_info = json.loads((exp_dir / "behaviorlab" / "run.json").read_text())
    assert run_info["versions"]["ray"] == "2.60.0" and run_info["versions"]["torch"]
    assert "commit" in run_info["git"]
    assert (exp_dir / "behaviorlab" / "spec.yaml").read_text() == (REPO / "experiments/ppo/cartpole.yaml").read_text()

    # A second run never overwrites the first; WANDB_MODE from the environment wins over the spec's offline.
    again = run_cli("run", "experiments/ppo/cartpole.yaml", "--smoke", extra_env={"WANDB_MODE": "disabled"})
    assert again.returncode == 0, again.stderr[-3000:]
    assert (run_cli.results / "ppo-cartpole-smoke-2").is_dir() and len(_rows(trial)) == 2
    assert not list((run_cli.results / "ppo-cartpole-smoke-2").glob("*/wandb")) and "wandb sync" not in again.stdout

    report = run_cli("report", exp_dir)
    assert report.returncode == 0, report.stderr
    png = exp_dir / "report" / "curves.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert "trial_00000_seed=0" in (exp_dir / "report" / "trials.md").read_text()

    compare = run_cli("compare", exp_dir, run_cli.results / "ppo-cartpole-smoke-2", "--out", tmp_path / "cmp")
    assert compare.returncode == 0, compare.stderr
    assert (tmp_path / "cmp" / "compare.png").exists()
    assert "ppo-cartpole-smoke-2" in (tmp_path / "cmp" / "compare.md").read_text()


def test_env_that_raises_does_not_end_the_run(run_cli, tmp_path):
    spec = tmp_path / "flaky.yaml"
    spec.write_text(SMALL_PPO.format(env="envs_for_tests:FlakyCartPole") + "env_config: {fail_every: 700}\n"
                    "stop: {iterations: 3}\n")
    start = time.monotonic()
    proc = run_cli("run", spec)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "env failures" in proc.stdout  # the progress line counts them
    (trial,) = (run_cli.results / "flaky").glob("trial_*")
    rows = _rows(trial)
    assert len(rows) == 3
    assert float(rows[-1]["env_runners/num_env_step_failures"]) >= 2
    assert time.monotonic() - start < 120  # no minute-long restart delays


def test_non_finite_return_stops_trial_naming_the_metric(run_cli, tmp_path):
    spec = tmp_path / "inf.yaml"
    spec.write_text(SMALL_PPO.format(env="envs_for_tests:InfiniteRewardCartPole") + "stop: {iterations: 5}\n")
    proc = run_cli("run", spec)
    assert proc.returncode == 1
    assert "FAILED" in proc.stdout and "env_runners/episode_return" in proc.stdout and "inf" in proc.stdout, proc.stdout
    assert "1 of 1 trials failed" in proc.stdout


ITERATIONS = 8  # per seed, ≈ 0.5 s each: the second seed is still running when the test sees its first checkpoint


def _kill_then_resume(tmp_path: Path, env: dict, first_done: bool = True) -> tuple[Path, list[dict]]:
    """Run two seeds one after the other, SIGKILL the run once the second has a checkpoint (and, with
    `first_done`, the first seed's rows are all written), then `--resume` it. Returns the first
    trial and its rows at the kill."""
    spec = tmp_path / "killme.yaml"
    spec.write_text(SMALL_PPO.format(env="CartPole-v1") + f"stop: {{iterations: {ITERATIONS}}}\nseeds: [0, 1]\n"
                    "tune: {max_concurrent_trials: 1}\ncheckpoint: {every: 1}\n")
    exp_dir = Path(env["BEHAVIORLAB_RESULTS"]) / "killme"
    cmd = [sys.executable, "-m", "behaviorlab.platform.cli", "run", str(spec)]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + 240
    first = second = None
    try:
        while time.monotonic() < deadline:
            trials = sorted(exp_dir.glob("trial_*")) if exp_dir.exists() else []
            if (len(trials) == 2 and list(trials[1].glob("checkpoint_*"))
                    and (not first_done or len(_rows(trials[0])) == ITERATIONS)):
                first, second = trials
                break
            assert proc.poll() is None, proc.stdout.read().decode()[-3000:]
            time.sleep(0.1)
        assert first is not None, "run did not reach the kill point in time"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and every Ray process it started
        proc.wait()
    assert len(_rows(second)) < ITERATIONS
    first_rows = _rows(first)

    resumed = subprocess.run(cmd + ["--resume"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-3000:]
    assert sorted({int(r["training_iteration"]) for r in _rows(second)}) == list(range(1, ITERATIONS + 1))
    assert list((exp_dir / "behaviorlab").glob("resume-*.json"))
    return first, first_rows


@pytest.mark.slow
def test_sigkill_then_resume_finishes_without_losing_rows(tmp_path):
    # Tune writes its experiment state at every step here (by default every few seconds), so it
    # knows the first seed ended: that trial is neither re-run nor lost. A kill before such a
    # write is the next test.
    env = cli_env(tmp_path / "results") | {"TUNE_GLOBAL_CHECKPOINT_S": "0"}
    first, first_rows = _kill_then_resume(tmp_path, env)
    assert _rows(first) == first_rows


def test_resume_after_a_kill_before_tune_saved_the_second_trial(tmp_path):
    """Tune's experiment state written only at the start: on resume the second seed comes from the
    searcher's saved state, whose config holds placeholders for the RLModule classes. The resume must
    resolve them (param_space passed to Tuner.restore) and run both seeds to the end. (With this
    setting the first seed's rows were seen complete only after the second seed's, so the kill
    waits for the second seed's checkpoint alone.)"""
    env = cli_env(tmp_path / "results") | {"TUNE_GLOBAL_CHECKPOINT_S": "100000"}
    first, _ = _kill_then_resume(tmp_path, env, first_done=False)
    assert [int(r["training_iteration"]) for r in _rows(first)] == list(range(1, ITERATIONS + 1))
