"""The continuous-skill (SPiRL-style VAE) baseline of PTGM's benchmarks: Gaussian KLs, the skill-VAE
loss, segment cutting, the skill stage's artifacts, the skill env and the skill-prior reward."""

from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pytest
import torch

from behaviorlab.algorithms.ptgm.env import SkillEnv
from behaviorlab.algorithms.ptgm.losses import (
    gaussian_kl,
    gaussian_kl_to_standard_normal,
    skill_vae_loss,
)
from behaviorlab.algorithms.ptgm.models import (
    GoalConditionedPolicy,
    SkillEncoder,
    SkillPrior,
    load_model,
    save_model,
)
from behaviorlab.algorithms.ptgm.pretrain import segment_starts, skill_paths, train_skills
from tests.unit.test_ptgm import EPISODE_IDS, _Counter, _tiny_dataset

LN2 = float(np.log(2.0))


def test_gaussian_kl_to_standard_normal_by_hand():
    zeros = torch.zeros(2)
    assert gaussian_kl_to_standard_normal(zeros, zeros).item() == pytest.approx(0.0)
    # μ = (1, 1), σ = 1: Σ ½μ² = 1.
    assert gaussian_kl_to_standard_normal(torch.ones(2), zeros).item() == pytest.approx(1.0)
    # μ = 0, σ = 2, D = 1: ½(4 − 1) − ln 2 = 1.5 − 0.693147.
    assert gaussian_kl_to_standard_normal(torch.zeros(1), torch.tensor([LN2])).item() == pytest.approx(0.806853, abs=1e-6)
    # leading dims pass through
    assert gaussian_kl_to_standard_normal(torch.zeros(3, 4, 5), torch.zeros(3, 4, 5)).shape == (3, 4)


def test_gaussian_kl_by_hand_and_against_torch():
    # N(1, 1) ‖ N(0, 2²): ln 2 + (1 + 1)/8 − ½ = 0.443147; the reverse: −ln 2 + (4 + 1)/2 − ½ = 1.306853.
    one, zero, ln2 = torch.ones(1), torch.zeros(1), torch.tensor([LN2])
    assert gaussian_kl(one, zero, zero, ln2).item() == pytest.approx(0.443147, abs=1e-6)
    assert gaussian_kl(zero, ln2, one, zero).item() == pytest.approx(1.306853, abs=1e-6)
    generator = torch.Generator().manual_seed(0)
    mean, log_std, prior_mean, prior_log_std = torch.randn(4, 5, 3, generator=generator).unbind(0)
    reference = torch.distributions.kl_divergence(torch.distributions.Normal(mean, log_std.exp()),
                                                  torch.distributions.Normal(prior_mean, prior_log_std.exp())).sum(-1)
    assert torch.allclose(gaussian_kl(mean, log_std, prior_mean, prior_log_std), reference, atol=1e-5)
    assert torch.allclose(gaussian_kl(mean, log_std, torch.zeros(3), torch.zeros(3)),
                          gaussian_kl_to_standard_normal(mean, log_std), atol=1e-6)


def test_skill_vae_loss_by_hand():
    """Segment 1: uniform logits over 2 actions, k = 3 → NLL 3 ln 2; μ = (1, 1), σ = 1 → KL 1.
    Segment 2: the data's action has logit ln 3 against 0 → NLL ln(4/3) per step; μ = 0, σ = 1 → KL 0."""
    logits = torch.zeros(2, 3, 2)
    logits[1, :, 1] = float(np.log(3.0))
    actions = torch.tensor([[0, 1, 1], [1, 1, 1]])
    mean = torch.tensor([[1.0, 1.0], [0.0, 0.0]])
    loss, nll, kl = skill_vae_loss(logits, actions, mean, torch.zeros(2, 2), beta=0.5)
    assert nll.tolist() == pytest.approx([3 * LN2, 3 * np.log(4 / 3)], abs=1e-5)
    assert kl.tolist() == pytest.approx([1.0, 0.0], abs=1e-6)
    assert loss.item() == pytest.approx((3 * LN2 + 0.5 + 3 * np.log(4 / 3)) / 2, abs=1e-5)


def test_segments_never_cross_an_episode_end():
    # episodes: steps 0–4 (5 steps), 5 (1), 6–17 (12), 18–20 (3)
    assert segment_starts(EPISODE_IDS, 4).tolist() == [0, 1] + list(range(6, 15))
    for length in (1, 3, 5, 12, 13):
        starts = segment_starts(EPISODE_IDS, length)
        assert all(len(set(EPISODE_IDS[s:s + length])) == 1 and s + length <= len(EPISODE_IDS) for s in starts)
    assert len(segment_starts(EPISODE_IDS, 1)) == len(EPISODE_IDS)
    assert len(segment_starts(EPISODE_IDS, 13)) == 0
    with pytest.raises(ValueError, match="at least 1"):
        segment_starts(EPISODE_IDS, 0)


def test_skills_stage_writes_a_decoder_encoder_and_prior_that_load(tmp_path):
    _tiny_dataset(tmp_path / "data", episodes=20, length=8)
    report = train_skills(tmp_path / "data", tmp_path / "skills.pt", skill_length=4, latent_dim=3, epochs=6,
                          hidden=(32,), lr=3e-3, batch_size=16, log=None)
    history = report["history"]
    assert history[-1]["loss"] < history[0]["loss"]
    assert report["segments"] == 20 * 5 and 0 < report["held_out_segments"] < report["segments"]
    assert all(0 <= entry["greedy_match"] <= 1 and entry["kl"] >= 0 for entry in history)
    paths = skill_paths(tmp_path / "skills.pt")
    assert paths["report"].is_file()
    decoder, settings = load_model(paths["decoder"])
    encoder, _ = load_model(paths["encoder"])
    prior, _ = load_model(paths["prior"])
    assert isinstance(decoder, GoalConditionedPolicy) and settings["skill_length"] == 4
    obs = torch.zeros(5, decoder.kwargs["obs_dim"])
    assert decoder(obs, torch.zeros(5, 3)).shape == (5, 7)
    assert [t.shape for t in encoder(obs, torch.zeros(5, 4, dtype=torch.long))] == [(5, 3), (5, 3)]
    assert [t.shape for t in prior(obs)] == [(5, 3), (5, 3)]
    with pytest.raises(ValueError, match="no episode has 9 steps"):
        train_skills(tmp_path / "data", tmp_path / "other.pt", skill_length=9, epochs=1, log=None)


def test_skill_env_acts_k_steps_with_the_clipped_skill_and_ends_with_the_episode():
    calls = []

    def policy(obs, goal):
        calls.append((float(obs[0]), goal.copy()))
        return 0

    env = SkillEnv(_Counter(length=10), policy, latent_dim=2, steps_per_skill=4, bound=3.0)
    assert env.action_space == gym.spaces.Box(-3.0, 3.0, (2,), np.float32)
    env.reset()
    obs, reward, terminated, _, info = env.step(np.array([5.0, -0.5]))
    assert reward == 4.0 and info["low_level_steps"] == 4 and obs[0] == 4 and not terminated
    assert [c[0] for c in calls] == [0, 1, 2, 3]
    assert all(np.array_equal(goal, np.array([3.0, -0.5], np.float32)) for _, goal in calls)  # clipped to the box
    env.step(np.zeros(2))
    obs, reward, terminated, _, info = env.step(np.array([-7.0, 1.0]))  # 2 steps left in the episode
    assert terminated and reward == 2.0 and info["low_level_steps"] == 2 and obs[0] == 10
    assert np.array_equal(calls[-1][1], np.array([-3.0, 1.0], np.float32))
    with pytest.raises(ValueError, match="bound"):
        SkillEnv(_Counter(length=3), policy, latent_dim=2, steps_per_skill=4, bound=0.0)


def test_make_skill_env_reads_the_latent_size_and_skill_length_from_the_decoder(tmp_path):
    pytest.importorskip("minigrid")
    from behaviorlab.algorithms.ptgm.env import make_skill_env
    from behaviorlab.envs.minigrid import OBSERVATION_SIZE

    save_model(tmp_path / "skills.pt", GoalConditionedPolicy(OBSERVATION_SIZE, 5, 7, hidden=(8,)), {"skill_length": 6})
    env = make_skill_env("BabyAI-GoToLocal-v0", str(tmp_path / "skills.pt"), seed=0)
    assert env.action_space.shape == (5,) and env.steps_per_goal == 6
    env.reset(seed=0)
    _, _, _, _, info = env.step(np.zeros(5, np.float32))
    assert 1 <= info["low_level_steps"] <= 6
    save_model(tmp_path / "low.pt", GoalConditionedPolicy(OBSERVATION_SIZE, 5, 7, hidden=(8,)), {"k_max": 3})
    with pytest.raises(ValueError, match="not a skill decoder"):
        make_skill_env("BabyAI-GoToLocal-v0", str(tmp_path / "low.pt"))


def _skill_learner(prior=None, coeff=0.5):
    from behaviorlab.algorithms.ptgm.learner import SkillPriorKLMixin

    learner = SkillPriorKLMixin()
    learner._skill_prior = prior
    config = SimpleNamespace(skill_prior_kl_coeff=coeff)
    learner.config = SimpleNamespace(get_config_for_module=lambda module_id: config)
    return learner


def test_skill_prior_reward_piece_subtracts_the_kl_of_the_policys_gaussian_on_real_steps():
    from ray.rllib.core.columns import Columns

    from behaviorlab.algorithms.ptgm.learner import GoalPriorRewardPiece

    # ACTION_DIST_INPUTS = [mean (2), log_std (2)]: step 0 μ = (1, 1), σ = 1 → KL(π ‖ N(0, I)) = 1;
    # step 1 μ = 0, σ = 1 → 0; step 2 is PPO's padding step.
    inputs = torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [3.0, 3.0, 0.0, 0.0]])
    batch = {"default_policy": {Columns.REWARDS: torch.tensor([1.0, 1.0, 0.0]), Columns.OBS: torch.zeros(3, 4),
                                Columns.ACTION_DIST_INPUTS: inputs, Columns.LOSS_MASK: torch.tensor([True, True, False])}}
    out = GoalPriorRewardPiece(learner=_skill_learner())(rl_module=None, batch=batch, episodes=[])
    assert out["default_policy"][Columns.REWARDS].tolist() == pytest.approx([0.5, 1.0, 0.0], abs=1e-6)

    # A learned prior N((1, 1), 1) everywhere: now step 0 is at the prior and step 1 pays 1.
    prior = SkillPrior(obs_dim=4, latent_dim=2, hidden=())
    with torch.no_grad():
        prior.net[-1].weight.zero_()
        prior.net[-1].bias.copy_(torch.tensor([1.0, 1.0, 0.0, 0.0]))
    batch["default_policy"][Columns.REWARDS] = torch.tensor([1.0, 1.0, 0.0])
    out = GoalPriorRewardPiece(learner=_skill_learner(prior))(rl_module=None, batch=batch, episodes=[])
    assert out["default_policy"][Columns.REWARDS].tolist() == pytest.approx([1.0, 0.5, 0.0], abs=1e-6)


def test_skill_config_checks_its_fields():
    from behaviorlab.algorithms.ptgm.callbacks import PTGMCallbacks
    from behaviorlab.platform.registry import algorithm_config_class

    config = algorithm_config_class("PTGMVAESkills")()
    assert not config.normalize_actions and config.skill_prior_path == "" and config.missing_inputs() == {}
    config.validate()
    assert PTGMCallbacks in config.callbacks_class
    for bad, message in (({"skill_prior_kl_coeff": -1.0}, "skill_prior_kl_coeff"),
                         ({"skill_prior_kl_in": "both"}, "skill_prior_kl_in")):
        with pytest.raises(ValueError, match=message):
            algorithm_config_class("PTGMVAESkills")().training(**bad).validate()
    normalized = algorithm_config_class("PTGMVAESkills")().environment(normalize_actions=True)
    with pytest.raises(ValueError, match="normalize_actions=False"):
        normalized.validate()
    missing = algorithm_config_class("PTGMVAESkills")().training(skill_prior_path="/nonexistent/prior.pt")
    assert "`skills` stage" in missing.missing_inputs()["skill_prior_path"][1]


def test_skill_encoder_and_prior_round_trip_through_model_files(tmp_path):
    torch.manual_seed(0)
    encoder = SkillEncoder(obs_dim=3, num_actions=4, skill_length=2, latent_dim=2, hidden=(8,))
    save_model(tmp_path / "encoder.pt", encoder)
    loaded, _ = load_model(tmp_path / "encoder.pt")
    obs, actions = torch.randn(5, 3), torch.randint(0, 4, (5, 2))
    for a, b in zip(encoder(obs, actions), loaded(obs, actions)):
        assert torch.equal(a, b)
