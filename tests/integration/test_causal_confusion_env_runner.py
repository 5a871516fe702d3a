"""The graph policy on an RLlib EnvRunner (causal_confusion/env_runner.py) plays the episodes the plain
GraphPolicy plays greedily with the same mask, episode i from reset seed first_seed + i, including when
a sub-env ends episodes faster than the others (CartPole: a second episode ends before a first)."""

import numpy as np
import pytest
import torch

from behaviorlab.algorithms.causal_confusion.graph_policy import GraphPolicy
from behaviorlab.envs import make_env
from behaviorlab.platform.policy import rollout

pytestmark = pytest.mark.integration
ENV, FACTORS = "Confounded-CartPole-v1", (1, 1, 1, 1, 2)  # cart and pole factors, previous-action one-hot
SHORT = {"max_episode_steps": 30}  # a sub-env steps to the time limit: keep it short


def test_env_runner_plays_the_graph_policys_greedy_episodes_in_seed_order():
    from behaviorlab.algorithms.causal_confusion.env_runner import make_runner, play

    torch.manual_seed(3)
    policy, graph = GraphPolicy(FACTORS, 2, hidden=(8,)), np.array([1.0, 0.0, 1.0, 1.0, 1.0])
    runner = make_runner(ENV, FACTORS, (8,), width=2, env_config=SHORT)
    episodes = play(runner, policy, graph, first_seed=40, count=3)

    env = make_env(ENV, SHORT)

    def act(obs):
        with torch.no_grad():
            return int(policy(torch.as_tensor(obs)[None], torch.as_tensor(graph, dtype=torch.float32)).argmax())

    expected = [rollout(env, act, 40 + i) for i in range(3)]
    lengths = [len(e.actions) for e in expected]
    assert len(set(lengths)) > 1  # starts that differ, so the order is checked
    assert 2 * min(lengths) < SHORT["max_episode_steps"]  # a sub-env ends a second episode within the limit
    for episode, reference in zip(episodes, expected, strict=True):
        np.testing.assert_array_equal(episode.get_actions(), reference.actions)
        np.testing.assert_allclose(np.asarray(episode.get_observations())[:-1], np.asarray(reference.observations))
        assert episode.get_return() == reference.episode_return
    assert runner.module.graph.tolist() == graph.tolist()  # the mask reached the module through the runner's state
