"""PTGM's math and offline stages: relabelling, codebook, prior labels, KL penalty, BC, goal-code env."""

import gymnasium as gym
import numpy as np
import pytest
import torch

pytest.importorskip("sklearn")

from behaviorlab.algorithms.ptgm import embedding_jobs
from behaviorlab.algorithms.ptgm.env import (
    GoalCodeEnv,
    SampledLowLevelPolicy,
    guided_logits,
)
from behaviorlab.algorithms.ptgm.goals import (
    fit_codebook,
    goal_embedding,
    load_codebook,
    nearest_code,
    save_codebook,
)
from behaviorlab.algorithms.ptgm.losses import goal_prior_reward, kl_penalty
from behaviorlab.algorithms.ptgm.models import GoalConditionedPolicy, load_model
from behaviorlab.algorithms.ptgm.pretrain import (
    fit_goals,
    load_transitions,
    sample_goal_steps,
    train_low_level,
    train_prior,
)
from behaviorlab.algorithms.ptgm.relabel import episode_ends, relabel
from behaviorlab.envs.datasets import TrajectoryWriter
from behaviorlab.envs.minigrid import IMAGE_SIZE, OBSERVATION_SIZE

EPISODE_IDS = np.repeat([4, 7, 8, 11], [5, 1, 12, 3])  # ids need not be consecutive; lengths vary


def test_episode_ends():
    ends = episode_ends(EPISODE_IDS)
    assert ends.tolist() == [4] * 5 + [5] + [17] * 12 + [20] * 3


@pytest.mark.parametrize("k_min, k_max", [(1, 3), (2, 6), (0, 0)])
def test_relabel_clipped_goals_stay_in_range_and_in_the_episode(k_min, k_max):
    steps, future = relabel(EPISODE_IDS, k_min, k_max, np.random.default_rng(0))
    ends = episode_ends(EPISODE_IDS)
    assert steps.tolist() == list(range(len(EPISODE_IDS)))
    assert np.all(EPISODE_IDS[future] == EPISODE_IDS[steps])
    assert np.all(future <= ends[steps])
    offset = future - steps
    unclipped = future < ends[steps]
    assert np.all((offset[unclipped] >= k_min) & (offset[unclipped] <= k_max))
    assert np.all(offset[~unclipped] <= k_max)  # clipped ones: the episode's end came first


def test_relabel_without_clipping_drops_steps_whose_goal_is_past_the_end():
    rng = np.random.default_rng(1)
    ids = np.repeat(np.arange(50), 8)
    steps, future = relabel(ids, 2, 5, rng, clip=False)
    offset = future - steps
    assert np.all((offset >= 2) & (offset <= 5))
    assert np.all(ids[future] == ids[steps])
    assert set(offset.tolist()) == {2, 3, 4, 5}
    assert 0 < len(steps) < len(ids)  # late steps of each episode were dropped
    with pytest.raises(ValueError):
        relabel(ids, 3, 2, rng)


def _clustered_goals(seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 10, size=(5, 6))
    return (centres[rng.integers(0, 5, 400)] + rng.normal(0, 0.5, (400, 6))).astype(np.float32)


def test_codebook_is_deterministic_and_made_of_dataset_samples(tmp_path):
    goals = _clustered_goals()
    first, second = fit_codebook(goals, 5, seed=3), fit_codebook(goals, 5, seed=3)
    np.testing.assert_array_equal(first.codes, second.codes)
    np.testing.assert_array_equal(first.sample_indices, second.sample_indices)
    np.testing.assert_array_equal(first.codes, goals[first.sample_indices])
    # each code is the sample nearest its centre
    distances = np.linalg.norm(goals[None] - first.centres[:, None], axis=-1)
    np.testing.assert_array_equal(first.sample_indices, distances.argmin(1))
    save_codebook(tmp_path / "book.npz", first)
    loaded = load_codebook(tmp_path / "book.npz")
    np.testing.assert_array_equal(loaded.codes, first.codes)
    assert loaded.metadata["seed"] == 3 and loaded.metadata["num_codes"] == 5
    with pytest.raises(ValueError, match="cannot make"):
        fit_codebook(goals[:3], 5, seed=0)


def test_prior_labels_are_the_nearest_code():
    rng = np.random.default_rng(0)
    codes, embeddings = rng.normal(size=(7, 4)), rng.normal(size=(300, 4))
    brute_force = np.array([np.argmin([np.sum((e - c) ** 2) for c in codes]) for e in embeddings])
    np.testing.assert_array_equal(nearest_code(embeddings, codes), brute_force)
    np.testing.assert_array_equal(nearest_code(codes, codes), np.arange(7))


def test_kl_penalty_sign_and_direction():
    prior = torch.tensor([[0.7, 0.2, 0.1]])
    policy = torch.tensor([[0.1, 0.1, 0.8]])
    forward = (prior * (prior / policy).log()).sum()  # D_KL(π_p ‖ π_θ), the paper's term
    reverse = (policy * (policy / prior).log()).sum()
    assert kl_penalty(prior, policy).item() == pytest.approx(forward.item(), rel=1e-5)  # default direction
    assert kl_penalty(prior, policy, "prior_to_policy").item() == pytest.approx(forward.item(), rel=1e-5)
    assert kl_penalty(prior, policy, "policy_to_prior").item() == pytest.approx(reverse.item(), rel=1e-5)
    assert forward.item() != pytest.approx(reverse.item())
    assert kl_penalty(prior, prior).item() == pytest.approx(0.0, abs=1e-6)
    # reward = Σ r − λ·KL: a policy further from the prior earns less
    closer = torch.tensor([[0.6, 0.25, 0.15]])
    λ = 0.05
    assert -λ * kl_penalty(prior, policy) < -λ * kl_penalty(prior, closer) < 0
    with pytest.raises(ValueError, match="direction"):
        kl_penalty(prior, policy, "forward")


def test_goal_prior_reward_by_hand():
    """prior [0.25, 0.75], policy [0.5, 0.5]: D_KL(π_p ‖ π_θ) = 0.25 ln 0.5 + 0.75 ln 1.5 = 0.130812,
    D_KL(π_θ ‖ π_p) = 0.5 ln 2 + 0.5 ln(2/3) = 0.143841."""
    prior_logits = torch.tensor([[0.0, np.log(3.0)], [1.0, 1.0]])
    policy_logits = torch.tensor([[0.0, 0.0], [5.0, 5.0]])  # the second row: policy = prior
    rewards = goal_prior_reward(torch.tensor([1.0, -2.0]), prior_logits, policy_logits, 0.5)
    assert rewards.tolist() == pytest.approx([1.0 - 0.5 * 0.130812, -2.0], abs=1e-5)
    reverse = goal_prior_reward(torch.tensor([1.0, -2.0]), prior_logits, policy_logits, 0.5, direction="policy_to_prior")
    assert reverse.tolist() == pytest.approx([1.0 - 0.5 * 0.143841, -2.0], abs=1e-5)
    # leading batch dims pass through (ACER's [B, T] segments)
    assert goal_prior_reward(torch.zeros(3, 4), torch.zeros(3, 4, 2), torch.ones(3, 4, 2), 1.0).shape == (3, 4)


def test_goal_steps_are_distinct_and_uniform_over_states():
    rng = np.random.default_rng(0)
    chosen = sample_goal_steps(1000, 300, rng)
    assert len(np.unique(chosen)) == 300 and chosen.min() >= 0 and chosen.max() < 1000
    # Episodes of 10 steps: about 10 % of the goals are last steps (relabelled, clipped futures gave most).
    counts = [np.isin(sample_goal_steps(1000, 300, rng) % 10, [9]).mean() for _ in range(50)]
    assert np.mean(counts) == pytest.approx(0.1, abs=0.01)
    assert len(sample_goal_steps(20, 300, rng)) == 20  # fewer states than goals asked: all of them


def _tiny_dataset(path, episodes=30, length=6, seed=0):
    """Flat BabyAI-sized observations; the action is a function of the observation (learnable)."""
    rng = np.random.default_rng(seed)
    with TrajectoryWriter(path, attributes={"num_actions": 7}) as writer:
        for _ in range(episodes):
            for _ in range(length):
                obs = np.zeros(OBSERVATION_SIZE, np.float32)
                obs[:IMAGE_SIZE] = rng.integers(0, 4, IMAGE_SIZE)
                writer.add_step(obs, np.int64(int(obs[:3].sum()) % 7), reward=0.0)
            writer.end_episode(terminated=True)


def test_offline_stages_chain_and_bc_lowers_its_loss(tmp_path):
    _tiny_dataset(tmp_path / "data")
    data = load_transitions(tmp_path / "data")
    assert data.obs.shape == (180, OBSERVATION_SIZE) and data.num_actions == 7
    report = train_low_level(tmp_path / "data", tmp_path / "low.pt", k_min=1, k_max=3, epochs=15, batch_size=32, lr=3e-3,
                             hidden=(64,), log=None)
    losses = report["loss_per_epoch"]
    assert losses[-1] < 0.6 * losses[0]
    policy, settings = load_model(tmp_path / "low.pt")
    assert settings["k_max"] == 3 and (tmp_path / "low.json").is_file()
    assert policy(torch.zeros(2, OBSERVATION_SIZE), torch.zeros(2, IMAGE_SIZE)).shape == (2, 7)

    metadata = fit_goals(tmp_path / "data", tmp_path / "low.pt", tmp_path / "book.npz", num_codes=4, seed=0, log=None)
    book = load_codebook(tmp_path / "book.npz")
    views = goal_embedding(data.obs, "babyai_view")
    np.testing.assert_array_equal(book.codes, views[metadata["dataset_rows"]])  # codes are dataset states

    prior_report = train_prior(tmp_path / "data", tmp_path / "book.npz", tmp_path / "prior.pt", epochs=3,
                               hidden=(32,), log=None)
    assert len(prior_report["history"]) == 3
    assert 0 <= prior_report["history"][-1]["majority_label_accuracy"] <= 1
    prior, _ = load_model(tmp_path / "prior.pt")
    assert prior(torch.zeros(5, OBSERVATION_SIZE)).shape == (5, 4)


def test_dataset_passes_return_rows_in_dataset_order_across_batches(tmp_path, monkeypatch):
    monkeypatch.setattr(embedding_jobs, "BATCH_STEPS", 7)  # batches cross episode ends
    _tiny_dataset(tmp_path / "data", episodes=5, length=4)
    reader = embedding_jobs.open_flat_dataset(tmp_path / "data")
    views = goal_embedding(load_transitions(tmp_path / "data").obs, "babyai_view")
    rows = np.array([17, 3, 3, 0, 19, 8])  # unsorted, with a repeat
    np.testing.assert_array_equal(embedding_jobs.embed_rows(reader, "babyai_view", rows), views[rows])
    codes = views[[2, 11, 5]]
    np.testing.assert_array_equal(embedding_jobs.code_of_every_step(reader, "babyai_view", codes), nearest_code(views, codes))


class _Counter(gym.Env):
    """Reward 1 per step; terminates after `length` steps; the observation is the step count."""

    observation_space = gym.spaces.Box(0, 100, (1,), np.float32)
    action_space = gym.spaces.Discrete(3)

    def __init__(self, length):
        self.length = length

    def reset(self, *, seed=None, options=None):
        self.t = 0
        return np.array([0.0], np.float32), {}

    def step(self, action):
        self.t += 1
        return np.array([self.t], np.float32), 1.0, self.t >= self.length, False, {}


def test_goal_code_env_runs_the_low_level_policy_k_steps_and_sums_rewards():
    calls = []

    def policy(obs, goal):
        calls.append((float(obs[0]), goal.copy()))
        return 0

    codes = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    env = GoalCodeEnv(_Counter(length=10), policy, codes, steps_per_goal=4)
    assert env.action_space == gym.spaces.Discrete(3)
    env.reset()
    obs, reward, terminated, _, info = env.step(2)
    assert reward == 4.0 and info["low_level_steps"] == 4 and obs[0] == 4 and not terminated
    assert [c[0] for c in calls] == [0, 1, 2, 3]  # π_L sees each new observation
    assert all(np.array_equal(goal, codes[2]) for _, goal in calls)
    env.step(0)
    obs, reward, terminated, _, info = env.step(1)  # only 2 steps left in the episode
    assert terminated and reward == 2.0 and info["low_level_steps"] == 2 and obs[0] == 10
    assert np.array_equal(calls[-1][1], codes[1])


class _ActionRecorder(_Counter):
    def step(self, action):
        self.actions.append(action)
        return super().step(action)


def test_a_seeded_reset_reseeds_the_low_level_policys_sampling():
    torch.manual_seed(0)
    policy = SampledLowLevelPolicy(GoalConditionedPolicy(obs_dim=1, goal_dim=2, num_actions=3, hidden=(8,)))
    base = _ActionRecorder(length=40)
    env = GoalCodeEnv(base, policy, np.zeros((2, 2), np.float32), steps_per_goal=40)
    runs = []
    for seed in (7, 8, 7):
        base.actions = []
        env.reset(seed=seed)
        env.step(0)
        runs.append(base.actions)
    assert runs[0] == runs[2] and runs[0] != runs[1]


def test_classifier_free_guidance_extrapolates_away_from_the_goal_free_logits():
    conditional, unconditional = torch.tensor([2.0, 0.0, -1.0]), torch.tensor([1.0, 0.5, -1.0])
    assert torch.equal(guided_logits(conditional, unconditional, 0.0), conditional)
    # w = 2: ℓ_g + 2·(ℓ_g − ℓ_∅) = [2 + 2·1, 0 + 2·(−0.5), −1 + 0]
    assert torch.allclose(guided_logits(conditional, unconditional, 2.0), torch.tensor([4.0, -1.0, -1.0]))

    torch.manual_seed(0)
    model = GoalConditionedPolicy(obs_dim=3, goal_dim=2, num_actions=4, hidden=(8,))
    obs, goal = np.array([0.1, -0.2, 0.3], np.float32), np.array([1.0, -1.0], np.float32)
    with torch.no_grad():
        with_goal = model(torch.as_tensor(obs)[None], torch.as_tensor(goal)[None])[0]
        without_goal = model(torch.as_tensor(obs)[None], torch.as_tensor(goal)[None], torch.zeros(1))[0]
    assert not torch.allclose(with_goal, without_goal)
    assert torch.allclose(SampledLowLevelPolicy(model).logits(obs, goal), with_goal)
    guided = SampledLowLevelPolicy(model, guidance=1.5).logits(obs, goal)
    assert torch.allclose(guided, with_goal + 1.5 * (with_goal - without_goal))
    with pytest.raises(ValueError, match="guidance"):
        SampledLowLevelPolicy(model, guidance=-1.0)


def test_goal_prior_reward_piece_shapes_real_steps_only():
    """PPO's learner connector piece: r − α·KL on real steps; the padding step keeps its reward."""
    from types import SimpleNamespace

    from ray.rllib.core.columns import Columns

    from behaviorlab.algorithms.ptgm.learner import GoalPriorKLMixin, GoalPriorRewardPiece

    learner = GoalPriorKLMixin()
    learner._goal_prior = lambda obs: torch.tensor([0.0, np.log(3.0)]).expand(len(obs), 2)
    config = SimpleNamespace(goal_prior_kl_coeff=0.5, goal_prior_kl_direction="prior_to_policy")
    learner.config = SimpleNamespace(get_config_for_module=lambda module_id: config)
    batch = {"default_policy": {Columns.REWARDS: torch.tensor([1.0, 1.0, 0.0]), Columns.OBS: torch.zeros(3, 4),
                                Columns.ACTION_DIST_INPUTS: torch.zeros(3, 2),
                                Columns.LOSS_MASK: torch.tensor([True, True, False])}}
    out = GoalPriorRewardPiece(learner=learner)(rl_module=None, batch=batch, episodes=[])
    expected = 1.0 - 0.5 * 0.130812
    assert out["default_policy"][Columns.REWARDS].tolist() == pytest.approx([expected, expected, 0.0], abs=1e-5)
