"""A throwaway multi-node Ray cluster on this machine, to try `ray job submit` end to end before
renting machines: `behaviorlab local-cluster SPEC` starts the nodes, submits `behaviorlab run SPEC`
as a Ray job, reports which node ran which actor, and stops only the nodes it started.

Each node is a `ray start --block` process with its own temp dir and ports; `--block` makes Ray
tear the node down when that process gets SIGTERM, so stopping never touches other Ray instances
(unlike `ray stop`, which kills every Ray process of the user).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

START_TIMEOUT_S = 90


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ray_executable() -> str:
    beside_python = Path(sys.executable).with_name("ray")
    return str(beside_python) if beside_python.exists() else (shutil.which("ray") or "ray")


def node_environment() -> dict[str, str]:
    """Nodes and the CLI calls that talk to them: this interpreter's bin dir first on PATH, so a
    job's `behaviorlab …` entrypoint is this installation; token auth as Ray 2.60 requires."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["RAY_AUTH_MODE"] = "token"
    env.pop("RAY_ADDRESS", None)
    return env


@dataclass
class LocalCluster:
    num_nodes: int = 2
    cpus_per_node: int = 1
    log_dir: Path | None = None
    gcs_port: int = field(default_factory=_free_port)
    dashboard_port: int = field(default_factory=_free_port)
    _processes: list[subprocess.Popen] = field(default_factory=list)
    _temp_root: Path | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.gcs_port}"

    @property
    def dashboard_url(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        # Short root: Ray's unix socket paths must stay under 107 characters.
        self._temp_root = Path(tempfile.mkdtemp(prefix="blc-"))
        log_dir = self.log_dir or self._temp_root
        log_dir.mkdir(parents=True, exist_ok=True)
        for index in range(self.num_nodes):
            command = [_ray_executable(), "start", "--block", f"--num-cpus={self.cpus_per_node}", "--num-gpus=0",
                       f"--temp-dir={self._temp_root / f'node{index}'}",
                       f"--dashboard-agent-listen-port={_free_port()}", f"--metrics-export-port={_free_port()}",
                       f"--runtime-env-agent-port={_free_port()}"]
            if index == 0:
                command += ["--head", f"--port={self.gcs_port}", "--include-dashboard=true",
                            "--dashboard-host=127.0.0.1", f"--dashboard-port={self.dashboard_port}"]
            else:
                command += [f"--address={self.address}"]
            log = open(log_dir / f"node{index}.log", "w")
            self._processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                                    env=node_environment(), start_new_session=True))
            self._wait_for_nodes(index + 1, log_dir)

    def _wait_for_nodes(self, count: int, log_dir: Path) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            for index, process in enumerate(self._processes):
                if process.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"ray node {index} exited with {process.returncode}; "
                                       f"see {log_dir / f'node{index}.log'}")
            if len(self.alive_node_ids()) >= count:
                return
            time.sleep(1)
        self.stop()
        raise RuntimeError(f"local cluster: {count} node(s) not up after {START_TIMEOUT_S} s; logs in {log_dir}")

    def alive_node_ids(self) -> list[str]:
        nodes = self._state("nodes", "--filter", "state=ALIVE")
        return [node["node_id"] for node in nodes] if nodes is not None else []

    def actors(self) -> list[dict]:
        """Every actor the cluster has seen (dead ones included): class name, node id, state."""
        return self._state("actors", "--detail") or []

    def _state(self, kind: str, *options: str) -> list[dict] | None:
        # The state CLI in a subprocess: this process need not import Ray or hold a connection.
        result = subprocess.run([_ray_executable(), "list", kind, *options, "--format=json", "--limit=10000",
                                 f"--address={self.dashboard_url}"],
                                capture_output=True, text=True, env=node_environment(), timeout=60)
        if result.returncode != 0:
            return None
        try:
            return json.loads(result.stdout)
        except json.JSONDecodeError:
            return None

    def submit(self, entrypoint: list[str], working_dir: Path, timeout_s: float) -> int:
        """`ray job submit` (waits for the job, streams its output); returns the job's exit status."""
        command = [_ray_executable(), "job", "submit", f"--address={self.dashboard_url}",
                   f"--working-dir={working_dir}", "--", *entrypoint]
        try:
            return subprocess.run(command, env=node_environment(), timeout=timeout_s).returncode
        except subprocess.TimeoutExpired:
            print(f"local cluster: job still running after {timeout_s:.0f} s; stopping", file=sys.stderr)
            return 124

    def stop(self) -> None:
        for process in self._processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self._processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self._processes.clear()
        if self._temp_root is not None:
            shutil.rmtree(self._temp_root, ignore_errors=True)
            self._temp_root = None


def actors_by_node(actors: list[dict]) -> dict[str, list[str]]:
    by_node: dict[str, list[str]] = defaultdict(list)
    for actor in actors:
        by_node[actor.get("node_id") or "?"].append(actor.get("class_name") or "?")
    return dict(by_node)


def run_spec_on_local_cluster(spec_file: Path, *, num_nodes: int, cpus_per_node: int, run_args: list[str],
                              timeout_s: float) -> int:
    """Start the cluster, submit the spec as a job, print where the actors ran, stop the cluster."""
    repo_root = Path(__file__).resolve().parents[2]
    spec_arg = os.path.relpath(spec_file.resolve(), repo_root)
    if spec_arg.startswith(".."):
        raise RuntimeError(f"{spec_file}: the spec must lie inside {repo_root}, the job's working dir")
    print(f"local cluster: starting {num_nodes} node(s) × {cpus_per_node} CPU", flush=True)
    with LocalCluster(num_nodes=num_nodes, cpus_per_node=cpus_per_node) as cluster:
        node_ids = cluster.alive_node_ids()
        print(f"local cluster: nodes {', '.join(n[:8] for n in node_ids)}; dashboard {cluster.dashboard_url}",
              flush=True)
        status = cluster.submit(["behaviorlab", "run", spec_arg, "--address", "auto", *run_args],
                                working_dir=repo_root, timeout_s=timeout_s)
        for node_id, classes in sorted(actors_by_node(cluster.actors()).items()):
            counts = ", ".join(f"{name} ×{classes.count(name)}" for name in sorted(set(classes)))
            print(f"local cluster: node {node_id[:8]} ran {counts}")
    print("local cluster: stopped", flush=True)
    return status
