"""SEED-style central inference (Espeholt et al. 2020), stage 1 of `../shared/design/seed_rl.md`:
EnvRunners step their vectorised envs and send each step's env-to-module batch to one inference
server actor, which batches the requests of all runners and acts with the learner's latest weights.

- `InferenceServer`: async Ray actor in the trial's placement group (on a share of the learner's
  GPU when the learner has one); its queue is `inference_batching.DynamicBatcher`.
- `CentralInferenceEnvRunner`: a `SingleAgentEnvRunner` whose RLModule is built on the meta device
  (no parameters in memory; it only answers connector and action-distribution queries) and whose
  forward passes are the server's. The returned distribution inputs go through the usual
  module-to-env connectors (actions sampled here, their logp computed here), so each step stores
  the μ that acted, and `WEIGHTS_SEQ_NO` per step is the learner version the server acted with.
- `CentralInferenceRunnerGroup`: the algorithm's EnvRunnerGroup with weight syncs redirected to the
  server; EnvRunners get connector states only, never weights.
- `central_inference_algorithm(cls, ...)`: the Tune trainable: starts the server, shares it with
  (restarted) runners, logs the throughput and lag metrics under `central_inference/`.

Deviation from full SEED (documented in the design): episodes are still assembled on the runners,
so the bandwidth claim does not apply; no recurrent state is kept on the server.
"""

from __future__ import annotations

import asyncio
import functools
import time
import uuid

import numpy as np
import ray
import torch
from ray.rllib.core import COMPONENT_RL_MODULE, DEFAULT_MODULE_ID
from ray.rllib.env.env_runner_group import EnvRunnerGroup
from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner
from ray.rllib.utils.metrics import (
    DIFF_NUM_GRAD_UPDATES_VS_SAMPLER_POLICY, ENV_RUNNER_RESULTS, LEARNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME,
    WEIGHTS_SEQ_NO)
from ray.rllib.utils.numpy import convert_to_numpy
from ray.rllib.utils.torch_utils import convert_to_torch_tensor

from behaviorlab.platform.inference_batching import DynamicBatcher, Request, concat, latency_summary, policy_lag, split

METRICS = "central_inference"
# The server's share of the learner's GPU: a trial then needs num_gpus_per_learner + this GPUs.
INFERENCE_GPU_SHARE = 0.25
# A killed server is restarted this often (runners' act calls are retried meanwhile); then the trial fails.
SERVER_RESTARTS = 3
SERVER_PROBE_TIMEOUT_S = 60
FRAME_RATE_WINDOW_S = 1.0
DEFAULT_TIMEOUT_MS = 1.0  # the design's ~1 ms: about one Ray round trip here


def _to_torch(batch: dict, device) -> dict:
    return convert_to_torch_tensor(batch, device=device)


class InferenceServer:
    """Batches act requests of all EnvRunners and answers them with the latest pushed weights."""

    def __init__(self, config, spaces, max_batch: int, timeout_s: float, weights, version: int):
        self._device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.module = config.get_rl_module_spec(spaces=spaces, inference_only=True).build().to(self._device)
        self._version = -1
        self.set_weights(weights, version)
        self._batcher = DynamicBatcher(max_batch, timeout_s)
        self._wakeup: asyncio.Event | None = None
        self._serving: asyncio.Task | None = None

    def set_weights(self, weights: dict, version: int) -> None:
        """Install the learner's inference weights; a push older than the installed one is dropped."""
        if version < self._version:
            return
        self.module.set_state(weights.get(DEFAULT_MODULE_ID, weights))
        self._version = version

    def version(self) -> int:
        return self._version

    async def infer(self, batch: dict, explore: bool) -> tuple[dict, int, int]:
        """(module outputs for these rows, weights version used, rows in the server batch)."""
        loop = asyncio.get_running_loop()
        if self._serving is None:  # the actor's event loop exists only once a call runs
            self._wakeup = asyncio.Event()
            self._serving = loop.create_task(self._serve())
        rows = len(next(iter(_leaves(batch))))
        answer = loop.create_future()
        self._batcher.add(Request(rows=rows, arrival=time.perf_counter(), key=explore, payload=(batch, answer)))
        self._wakeup.set()
        return await answer

    async def _serve(self) -> None:
        while True:
            delay = self._batcher.due_in(time.perf_counter())
            if delay is None or delay > 0:
                self._wakeup.clear()
                try:
                    await asyncio.wait_for(self._wakeup.wait(), delay)
                except asyncio.TimeoutError:
                    pass
                continue
            requests = self._batcher.take()
            try:
                outputs = self._forward([r.payload[0] for r in requests], explore=requests[0].key)
            except Exception as error:  # every waiting runner gets the error; none hangs
                for request in requests:
                    request.payload[1].set_exception(error)
                continue
            rows = sum(r.rows for r in requests)
            for request, part in zip(requests, split(outputs, [r.rows for r in requests])):
                request.payload[1].set_result((part, self._version, rows))
            await asyncio.sleep(0)  # let queued calls enqueue before the next batch is cut

    def _forward(self, batches: list[dict], explore: bool) -> dict:
        batch = _to_torch(concat(batches), self._device)
        with torch.no_grad():
            out = self.module.forward_exploration(batch) if explore else self.module.forward_inference(batch)
        return convert_to_numpy(out, reduce_type=False)


def _leaves(batch):
    for value in batch.values():
        if isinstance(value, dict):
            yield from _leaves(value)
        else:
            yield value


class CentralInferenceEnvRunner(SingleAgentEnvRunner):
    """Steps envs; its module's forward passes run on the `InferenceServer` (evaluation runners,
    which get weights as usual, act locally)."""

    def __init__(self, *, config, **kwargs):
        self._server = None
        self._acted_version = 0
        self._round_trips: list[float] = []
        self._server_batch_rows: list[int] = []
        super().__init__(config=config, **kwargs)

    @property
    def _central(self) -> bool:
        return not self.config.in_evaluation

    # RLlib stores `_weights_seq_no` with every step: here, the version the server acted with.
    @property
    def _weights_seq_no(self) -> int:
        return self._acted_version

    @_weights_seq_no.setter
    def _weights_seq_no(self, value: int) -> None:
        self._acted_version = value

    def connect_inference_server(self, server) -> None:
        self._server = server

    def make_module(self):
        if not self._central:
            return super().make_module()
        spec = self.config.get_rl_module_spec(env=self.env.unwrapped if self.env is not None else None,
                                              spaces=self.get_spaces(), inference_only=True)
        with torch.device("meta"):  # structure only: no weights are held or received here
            self.module = spec.build()
        self.module._forward_exploration = functools.partial(self._remote_forward, explore=True)
        self.module._forward_inference = functools.partial(self._remote_forward, explore=False)

    def _remote_forward(self, batch: dict, explore: bool, **kwargs) -> dict:
        if self._server is None:
            raise RuntimeError("central inference: this EnvRunner has no inference server; the algorithm "
                               "connects one in setup (run it through central_inference_algorithm)")
        start = time.perf_counter()
        outputs, version, rows = ray.get(self._server.infer.remote(convert_to_numpy(batch, reduce_type=False), explore))
        self._round_trips.append(time.perf_counter() - start)
        self._server_batch_rows.append(rows)
        self._acted_version = version
        return _to_torch(outputs, self._device)

    def sample(self, **kwargs):
        start = time.perf_counter()
        episodes = super().sample(**kwargs)
        if self._central and self._round_trips:
            elapsed = time.perf_counter() - start
            steps = sum(len(episode) for episode in episodes)
            values = {"env_frames_per_s_per_runner": steps / elapsed,
                      "mean_inference_batch": sum(self._server_batch_rows) / len(self._server_batch_rows),
                      **latency_summary(self._round_trips)}
            for name, value in values.items():
                self.metrics.log_value((METRICS, name), value, reduce="max" if name == "rtt_p99_ms" else "mean")
            self._round_trips.clear()
            self._server_batch_rows.clear()
        return episodes

    def get_state(self, components=None, *, not_components=None, **kwargs):
        if self._central:  # the meta module has no weights to give (the learner holds them)
            not_components = [*(not_components or []), COMPONENT_RL_MODULE] if not isinstance(
                not_components, str) else [not_components, COMPONENT_RL_MODULE]
        return super().get_state(components, not_components=not_components, **kwargs)

    def set_state(self, state) -> None:
        if self._central:
            state = {key: value for key, value in state.items() if key not in (COMPONENT_RL_MODULE, WEIGHTS_SEQ_NO)}
        super().set_state(state)


class CentralInferenceRunnerGroup(EnvRunnerGroup):
    """Weight syncs go to the inference server; EnvRunners get the connector states only."""

    inference_server = None
    initial_weights = None  # ObjectRef of the server's constructor weights
    pushed_version = 0

    def push_weights(self, rl_module_state: dict) -> None:
        weights = rl_module_state[COMPONENT_RL_MODULE]
        version = int(rl_module_state.get(WEIGHTS_SEQ_NO, self.pushed_version + 1))
        self.inference_server.set_weights.remote(weights, version)  # fire and forget; versions order them
        self.pushed_version = version

    def sync_weights(self, policies=None, from_worker_or_learner_group=None, to_worker_indices=None,
                     global_vars=None, timeout_seconds=0.0, inference_only=False) -> None:
        source = from_worker_or_learner_group
        if source is None or isinstance(source, SingleAgentEnvRunner):
            return  # only the learner's weights act
        self.push_weights(_learner_weights(source))

    def sync_env_runner_states(self, *, rl_module_state=None, **kwargs) -> None:
        if rl_module_state and COMPONENT_RL_MODULE in rl_module_state:
            self.push_weights(rl_module_state)
        super().sync_env_runner_states(rl_module_state=None, **kwargs)


def _learner_weights(learner_group) -> dict:
    from ray.rllib.core import COMPONENT_LEARNER

    return learner_group.get_state(components=f"{COMPONENT_LEARNER}/{COMPONENT_RL_MODULE}",
                                   inference_only=True)[COMPONENT_LEARNER]


class CentralInferenceMixin:
    """Mix in before an off-policy-corrected Algorithm (see `central_inference_algorithm`)."""

    inference_max_batch: int | None = None  # None: every env of every runner
    inference_timeout_ms: float = DEFAULT_TIMEOUT_MS

    @classmethod
    def default_resource_request(cls, config):
        request = super().default_resource_request(config)  # `config` may be Tune's dict
        if any(bundle.get("GPU", 0) > 0 for bundle in request.bundles):  # the learner has a GPU
            from ray.tune import PlacementGroupFactory

            return PlacementGroupFactory([*request.bundles, {"GPU": INFERENCE_GPU_SHARE}],
                                         strategy=request.strategy)
        return request

    def setup(self, config) -> None:
        if config.use_env_runner_state_server:  # its pushes would bypass the inference server
            raise ValueError("central inference needs config.env_runners(use_env_runner_state_server=False): "
                             "with RLlib's pull-based state server the learner's weights never reach the "
                             "inference server")
        super().setup(config)
        group = self.env_runner_group
        group.__class__ = CentralInferenceRunnerGroup  # RLlib builds the group; only its syncs change
        weights = _learner_weights(self.learner_group)
        max_batch = self.inference_max_batch or max(1, config.num_env_runners) * config.num_envs_per_env_runner
        server_class = ray.remote(num_cpus=0, num_gpus=INFERENCE_GPU_SHARE if config.num_gpus_per_learner > 0 else 0,
                                  max_restarts=SERVER_RESTARTS, max_task_retries=-1)(InferenceServer)
        # A restarted server reruns this constructor, so it acts with these first weights until the
        # next push (each step records that version); interrupted act calls are retried, so runners
        # only see a slow step. The group keeps the weights' reference alive for such restarts.
        group.initial_weights = ray.put(weights[COMPONENT_RL_MODULE])
        group.inference_server = server_class.options(name=f"behaviorlab-inference-{uuid.uuid4().hex[:12]}").remote(
            config, self.spaces, max_batch, self.inference_timeout_ms / 1e3, group.initial_weights,
            int(weights.get(WEIGHTS_SEQ_NO, 0)))
        group.pushed_version = int(weights.get(WEIGHTS_SEQ_NO, 0))
        self._check_server()  # a server that cannot start fails the trial here, with its error
        self._connect(group, None, local=True)

    def cleanup(self) -> None:
        server = getattr(getattr(self, "env_runner_group", None), "inference_server", None)
        super().cleanup()
        if server is not None:
            # Handles to it outlive the algorithm wherever the algorithm object does (a driver that
            # builds several in turn), and each idle server holds a module and ~0.4 GB.
            ray.kill(server)

    def _connect(self, group, runner_ids, local: bool) -> None:
        server = group.inference_server
        group.foreach_env_runner(lambda runner: runner.connect_inference_server(server),
                                 remote_worker_ids=runner_ids, local_env_runner=local)

    def _log_frame_rate(self) -> None:
        """Env frames/s over windows of at least FRAME_RATE_WINDOW_S: one training step of an
        asynchronous learner may see no samples at all."""
        now = time.perf_counter()
        steps = self.metrics.peek((ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME), default=0)
        since, steps_then = getattr(self, "_frame_window", (now, steps))
        if now - since >= FRAME_RATE_WINDOW_S:
            self.metrics.log_value((METRICS, "env_frames_per_s"), (steps - steps_then) / (now - since), reduce="mean")
            since, steps_then = now, steps
        self._frame_window = since, steps_then

    def _log_policy_lag(self) -> None:
        """Learner updates between the weights that acted on a trained step and the learner's when
        it trains on it: RLlib's learners measure it when the batch keeps WEIGHTS_SEQ_NO (IMPALA,
        APPO); segment learners (ACER, LBC) get it from `_sample_episodes` (on-policy update)."""
        learner_key = (LEARNER_RESULTS, DEFAULT_MODULE_ID, DIFF_NUM_GRAD_UPDATES_VS_SAMPLER_POLICY)
        if self.metrics._key_in_stats(learner_key):
            lag = self.metrics.peek(learner_key)
        else:
            lag, self._sampled_lag = getattr(self, "_sampled_lag", None), None
        if lag is not None:
            self.metrics.log_value((METRICS, "policy_lag_updates"), lag, reduce="mean")

    def _sample_episodes(self) -> list:
        """Called by the segment learners only (`offpolicy.SegmentReplayMixin`): the learner's
        version is the one pushed last, as they push after every update."""
        episodes = super()._sample_episodes()
        if episodes:
            acted = np.concatenate([np.asarray(e.get_extra_model_outputs(WEIGHTS_SEQ_NO)) for e in episodes])
            self._sampled_lag = policy_lag(self.env_runner_group.pushed_version, acted)
        return episodes

    def _check_server(self) -> None:
        try:
            ray.get(self.env_runner_group.inference_server.version.remote(), timeout=SERVER_PROBE_TIMEOUT_S)
        except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError) as error:
            detail = " ".join(str(error).split())[:300]
            raise RuntimeError(f"central inference: the inference server is gone ({type(error).__name__}: {detail}); "
                               "the trial cannot act without it") from None

    def restore_env_runners(self, env_runner_group) -> list[int]:
        restored = super().restore_env_runners(env_runner_group)
        if restored and env_runner_group is self.env_runner_group:
            self._connect(env_runner_group, restored, local=False)
        return restored

    def training_step(self):
        result = super().training_step()
        group = self.env_runner_group
        if group.num_healthy_remote_workers() < group.num_remote_workers():
            self._check_server()  # runners fail when the server is gone: say so instead of restarting them
        self._log_frame_rate()
        self._log_policy_lag()
        return result


@functools.cache
def central_inference_algorithm(algorithm_class: type, max_batch: int | None, timeout_ms: float) -> type:
    """`algorithm_class` with central inference (one class per setting, so Tune can restore it)."""
    return type(f"{algorithm_class.__name__}CentralInference", (CentralInferenceMixin, algorithm_class),
                {"inference_max_batch": max_batch, "inference_timeout_ms": timeout_ms,
                 "__module__": __name__})
