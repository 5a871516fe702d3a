"""RLlib glue: the graph-parameterised policy π_G as a new-API-stack RLModule, played by a
`SingleAgentEnvRunner` (no Ray cluster: the runner lives in this process, as an Algorithm's local one).

`GraphPolicyModule` wraps `GraphPolicy` (model_config: `factor_sizes`, `hidden`) and a buffer `graph`
holding P(G_j = 1) per factor: 0/1 bits play that fixed graph's π_G, 0.5 everywhere the uniform mixture
π_mix (graph_policy.mixture_log_probs). Weights and graph reach the runner through its state API
(`set_state({"rl_module": module_state(policy, graph)})`); `explore=False` plays greedily (the argmax),
`explore=True` samples from the distribution."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from ray.rllib.algorithms.algorithm_config import AlgorithmConfig
from ray.rllib.core import COMPONENT_RL_MODULE
from ray.rllib.core.columns import Columns
from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from ray.rllib.core.rl_module.torch import TorchRLModule
from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner
from ray.rllib.env.single_agent_episode import SingleAgentEpisode

from behaviorlab.algorithms.causal_confusion.graph_policy import GraphPolicy, mixture_log_probs


class GraphPolicyModule(TorchRLModule):
    def setup(self):
        factor_sizes = list(self.model_config["factor_sizes"])
        if int(np.prod(self.observation_space.shape)) != sum(factor_sizes):
            raise ValueError(f"GraphPolicyModule: factor_sizes {factor_sizes} cover {sum(factor_sizes)} inputs, "
                             f"the observations have shape {self.observation_space.shape}")
        self.policy = GraphPolicy(factor_sizes, int(self.action_space.n), self.model_config.get("hidden", (50, 50)))
        self.register_buffer("graph", torch.ones(len(factor_sizes)))

    def _forward(self, batch, **kwargs):
        return {Columns.ACTION_DIST_INPUTS: mixture_log_probs(self.policy, batch[Columns.OBS].float(), self.graph)}


class GraphPolicyConfig(AlgorithmConfig):
    """Acting only: the runner's RLModule is a GraphPolicyModule (no Learner; training is plain torch)."""

    def get_default_rl_module_spec(self) -> RLModuleSpec:
        return RLModuleSpec(module_class=GraphPolicyModule)


def module_state(policy: GraphPolicy, graph) -> dict:
    """The module's state dict for `policy`'s weights playing `graph` (bits or bit probabilities)."""
    state = {f"policy.{key}": value for key, value in policy.state_dict().items()}
    return {**state, "graph": torch.as_tensor(np.asarray(graph), dtype=torch.float32)}


def _tag_env_index(*, episode, env_index, **_) -> None:
    episode.custom_data["env_index"] = env_index


def make_runner(env_id: str, factor_sizes: Sequence[int], hidden: Sequence[int], width: int,
                env_config: dict | None = None) -> SingleAgentEnvRunner:
    """A local runner of `width` side-by-side `env_id` envs (the platform's env creator) acting with a
    GraphPolicyModule; each episode is tagged with its sub-env's index (`custom_data["env_index"]`)."""
    from behaviorlab.envs import register_with_tune

    register_with_tune(env_id)
    config = (GraphPolicyConfig().environment(env_id, env_config=env_config or {}).framework("torch")
              .rl_module(model_config={"factor_sizes": list(factor_sizes), "hidden": list(hidden)})
              .env_runners(num_env_runners=0, num_envs_per_env_runner=width)
              .callbacks(on_episode_created=_tag_env_index))
    return SingleAgentEnvRunner(config=config)


def play(runner: SingleAgentEnvRunner, policy: GraphPolicy, graph, first_seed: int, count: int,
         explore: bool = False) -> list[SingleAgentEpisode]:
    """`count` episodes of π_G, episode i reset with seed `first_seed + i` (as the platform's `evaluate`),
    in that order; played side by side, `runner.num_envs` at a time.

    RLlib seeds the envs only at the reset that starts a sample call after `_needs_initial_reset`, with
    the runner's seed (sub-env j gets seed + j), so each batch sets both. On several sub-envs,
    `sample(num_episodes=n)` would return the first n episodes to END, favouring short ones (a sub-env
    that finishes early starts a second episode); instead every sub-env steps for the time limit, which
    ends its first episode, and only first episodes are kept. One sub-env: its first episode, no more."""
    runner.set_state({COMPONENT_RL_MODULE: module_state(policy, graph)})
    width, horizon = runner.num_envs, _time_limit(runner) if runner.num_envs > 1 else 0
    episodes = []
    for start in range(0, count, width):
        runner._seed, runner._needs_initial_reset = first_seed + start, True
        if width == 1:
            episodes += runner.sample(num_episodes=1, explore=explore)
            continue
        first: dict[int, SingleAgentEpisode] = {}
        for episode in runner.sample(num_timesteps=width * horizon, explore=explore):
            if episode.is_done:
                first.setdefault(episode.custom_data["env_index"], episode)
        episodes += [first[j] for j in range(min(width, count - start))]
    return episodes


def _time_limit(runner: SingleAgentEnvRunner) -> int:
    env = runner.env.unwrapped.envs[0]
    try:
        return int(env.get_wrapper_attr("_max_episode_steps"))
    except (AttributeError, TypeError):
        raise ValueError(f"{runner.config.env}: play on several sub-envs needs a time limit (gymnasium's TimeLimit, "
                         "max_episode_steps); build the runner with width 1 or give the env one") from None
