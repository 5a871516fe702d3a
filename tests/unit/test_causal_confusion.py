"""Causal confusion math: the [X⊙G, G] input and its masks, graph enumeration and sampling, the
disagreement of the graphs, the intervention's ridge fit and its choice on synthetic scores
(including the expert-query mode's sign), the policy over a distribution of graphs that the EnvRunner
module plays, the study reading a recorded dataset, and its result rows for `behaviorlab report`."""

import math

import numpy as np
import pytest
import torch

from behaviorlab.algorithms.causal_confusion.graph_policy import (
    GraphPolicy,
    all_graphs,
    disagreement,
    expand_graph,
    graph_cloning_loss,
    graph_input,
    graph_losses,
    graph_weights,
    mixture_log_probs,
    sample_graphs,
)
from behaviorlab.algorithms.causal_confusion.intervention import (
    bit_probabilities,
    expert_query_intervention,
    fit_graph_weights,
    intervene,
    mode_graph,
    policy_execution_intervention,
    top_states,
)

FACTORS = (1, 1, 3)  # MountainCar: position, velocity, previous-action one-hot


def test_masks_expand_per_factor_and_the_input_is_masked_x_then_g():
    graph = torch.tensor([1.0, 0.0, 1.0])
    assert expand_graph(graph, FACTORS).tolist() == [1, 0, 1, 1, 1]
    x = torch.tensor([[2.0, 3.0, 4.0, 5.0, 6.0], [1.0, 1.0, 0.0, 1.0, 0.0]])
    out = graph_input(x, torch.tensor([0.0, 1.0, 1.0]), FACTORS)
    assert out.tolist() == [[0, 3, 4, 5, 6, 0, 1, 1], [0, 1, 0, 1, 0, 0, 1, 1]]
    per_row = graph_input(x, torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]]), FACTORS)
    assert per_row.tolist() == [[2, 3, 0, 0, 0, 1, 1, 0], [0] * 8]
    with pytest.raises(ValueError, match="2 bits"):
        expand_graph(torch.ones(2), FACTORS)


def test_masked_factors_do_not_reach_the_policy():
    torch.manual_seed(0)
    policy = GraphPolicy(FACTORS, num_actions=3)
    x = torch.randn(4, 5)
    moved = x.clone()
    moved[:, 2:] = torch.randn(4, 3)
    no_slot = torch.tensor([1.0, 1.0, 0.0])
    assert torch.equal(policy(x, no_slot), policy(moved, no_slot))
    assert not torch.allclose(policy(x, torch.ones(3)), policy(moved, torch.ones(3)))


def test_all_graphs_enumerates_each_mask_once_and_sampling_is_uniform():
    assert all_graphs(2).tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    graphs = all_graphs(3)
    assert graphs.shape == (8, 3) and len({tuple(g) for g in graphs.tolist()}) == 8
    sampled = sample_graphs(20_000, 3, torch.Generator().manual_seed(0))
    codes = (sampled @ torch.tensor([4.0, 2.0, 1.0])).long()
    assert torch.bincount(codes, minlength=8).float().div(20_000).sub(0.125).abs().max() < 0.01


def test_cloning_loss_draws_one_graph_per_example():
    torch.manual_seed(0)
    policy = GraphPolicy(FACTORS, num_actions=3)
    x, actions = torch.randn(16, 5), torch.randint(0, 3, (16,))
    loss = graph_cloning_loss(policy, x, actions, torch.Generator().manual_seed(3))
    graphs = sample_graphs(16, 3, torch.Generator().manual_seed(3))
    expected = torch.nn.functional.cross_entropy(policy(x, graphs), actions)
    assert loss.item() == pytest.approx(expected.item())
    per_graph = graph_losses(policy, x, actions, all_graphs(3))
    assert per_graph.shape == (8,)
    full = torch.nn.functional.cross_entropy(policy(x, torch.ones(3)), actions)
    assert per_graph[-1].item() == pytest.approx(full.item())


def test_disagreement_is_the_mean_kl_to_the_mixture():
    agree = torch.log(torch.tensor([[[0.2, 0.8]], [[0.2, 0.8]]]))
    assert disagreement(agree).item() == pytest.approx(0.0, abs=1e-7)
    opposed = torch.log(torch.tensor([[[0.9, 0.1]], [[0.1, 0.9]]]))
    # Mixture [0.5, 0.5]; each KL = 0.9 ln 1.8 + 0.1 ln 0.2 = 0.368064.
    assert disagreement(opposed).item() == pytest.approx(0.9 * math.log(1.8) + 0.1 * math.log(0.2), rel=1e-5)
    assert top_states(np.array([0.1, 0.5, 0.3]), 2).tolist() == [1, 2]


def test_ridge_fit_and_mode_by_hand():
    graphs = all_graphs(2).numpy()
    scores = 3 + 2 * graphs[:, 0] - 5 * graphs[:, 1]
    # Centred bits are ±0.5, so XᵀX = I and w = Xᵀy / (1 + α): [4/2/2, -10/2/2].
    np.testing.assert_allclose(fit_graph_weights(graphs, scores, alpha=1.0), [1.0, -2.5], atol=1e-9)
    np.testing.assert_allclose(fit_graph_weights(graphs, scores, alpha=1e-9), [2.0, -5.0], atol=1e-6)
    assert mode_graph(np.array([-1.0, 0.0, 2.0])).tolist() == [0, 0, 1]
    np.testing.assert_allclose(bit_probabilities(np.array([0.0, 10 * math.log(3)]), 10.0), [0.5, 0.75])


def test_policy_execution_picks_the_graph_that_drops_the_nuisance_factor():
    rng = np.random.default_rng(0)
    noise = np.random.default_rng(1)
    returns = lambda g: -130 + 10 * g[0] + 10 * g[1] - 15 * g[2] + noise.normal(0, 5)  # noqa: E731
    result = policy_execution_intervention(returns, 3, 20, rng)
    assert result.chosen.tolist() == [1, 1, 0]
    assert len(result.graphs) == len(result.scores) == len(result.modes) == 20


def test_expert_queries_regress_the_negative_loss():
    loss = lambda g: 0.5 - 0.1 * g[0] - 0.1 * g[1] + 0.2 * g[2]  # noqa: E731 - lowest loss: [1, 1, 0]
    assert expert_query_intervention(loss, 3, 20, np.random.default_rng(0)).chosen.tolist() == [1, 1, 0]
    # The sign pitfall: treating the loss as a score returns the worst graph.
    assert intervene(loss, 3, 20, np.random.default_rng(0)).chosen.tolist() == [0, 0, 1]


def test_study_reads_a_recorded_dataset_as_it_plays_demonstrations(tmp_path):
    """`expert_data` (a dataset from `behaviorlab data collect`) gives the same steps and episode starts
    as the expert playing the demonstrations itself."""
    from behaviorlab.algorithms.causal_confusion.study import Study, StudySpec
    from behaviorlab.envs.datasets.trajectories import TrajectoryWriter

    spec = StudySpec(name="t", expert_policy="behaviorlab.envs.confounded:mountain_car_pumping_expert",
                     demo_episodes=3, dataset_sizes=[10], seeds=1, eval_episodes=1, updates=1,
                     intervention_episodes=[1], query_budgets=[1])
    played = Study(spec)
    assert played.starts.sum() == 3 and played.starts[0]
    ends = [*np.flatnonzero(played.starts)[1:], len(played.actions)]
    with TrajectoryWriter(tmp_path / "demos", source="test", command="test") as writer:
        for start, end in zip(np.flatnonzero(played.starts), ends):
            for obs, action in zip(played.obs[start:end], played.actions[start:end]):
                writer.add_step(obs, int(action), reward=-1.0)
            writer.end_episode(terminated=True, source="test")
    recorded = Study(spec.model_copy(update={"expert_data": str(tmp_path / "demos")}))
    np.testing.assert_array_equal(recorded.obs, played.obs)
    np.testing.assert_array_equal(recorded.actions, played.actions)
    np.testing.assert_array_equal(recorded.starts, played.starts)


def test_graph_weights_and_the_mixture_policy_by_hand():
    graphs = all_graphs(3)
    weights = graph_weights(torch.tensor([1.0, 0.5, 0.0]), graphs)  # bit 0 on, bit 1 a coin, bit 2 off
    assert weights.tolist() == [0, 0, 0, 0, 0.5, 0, 0.5, 0]  # 100 and 110
    torch.manual_seed(0)
    policy, x = GraphPolicy(FACTORS, 3), torch.randn(4, 5)
    fixed = torch.tensor([1.0, 0.0, 1.0])
    assert torch.allclose(mixture_log_probs(policy, x, fixed), torch.log_softmax(policy(x, fixed), -1), atol=1e-6)
    uniform = torch.stack([torch.softmax(policy(x, g), -1) for g in graphs]).mean(0).log()
    assert torch.allclose(mixture_log_probs(policy, x, torch.full((3,), 0.5)), uniform, atol=1e-6)
    half = (torch.softmax(policy(x, graphs[4]), -1) + torch.softmax(policy(x, graphs[6]), -1)) / 2
    assert torch.allclose(mixture_log_probs(policy, x, torch.tensor([1.0, 0.5, 0.0])), half.log(), atol=1e-6)


def test_trial_rows_follow_the_intervention_episode_by_episode():
    from behaviorlab.algorithms.causal_confusion.study import trial_rows

    masks = {format(i, "03b"): -200.0 for i in range(8)} | {"110": -130.0, "010": -150.0}
    record = {"size": 300, "seed": 2, "bc_original": -120.0, "bc_confounded": -200.0, "mask_returns": masks,
              "execution_history": [["111", -200.0], ["110", -125.0], ["010", -160.0]],
              "execution_modes": ["000", "110", "010"], "execution_lengths": [200, 125, 160],
              "query_chosen": {"50": "010"}, "dagger": {"50": -190.0}}
    rows = trial_rows(record, wall_s=7.0)
    assert [row["training_iteration"] for row in rows] == [1, 2, 3]
    assert [row["num_env_steps_sampled_lifetime"] for row in rows] == [200, 325, 485]
    assert [row["env_runners"]["episode_return_mean"] for row in rows] == [-200.0, -130.0, -150.0]
    assert [row["gap_closed"] for row in rows] == [0.0, 70 / 80, 50 / 80]
    assert [row["intervention"]["drops_nuisance"] for row in rows] == [1, 1, 1]
    assert rows[1]["intervention"] == {"graph": "110", "episode_return": -125.0, "episode_len": 125,
                                       "chosen_graph": "110", "drops_nuisance": 1}
    assert rows[0]["query"] == {"50": {"chosen_graph": "010", "episode_return_mean": -150.0}}
    assert rows[0]["dagger"] == {"50": {"episode_return_mean": -190.0}} and "dropout_bc" not in rows[0]
    equal = trial_rows(record | {"bc_original": -200.0}, wall_s=7.0)
    assert {row["gap_closed"] for row in equal} == {None}
