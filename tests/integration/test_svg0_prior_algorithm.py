"""SVG0Prior built and trained in-process on the Dict-observation navigation task: the prior sees
only its keys, targets move, replay survives a checkpoint, and a prior transfers frozen; the same
for the hierarchical variant, whose EnvRunner holds z for k steps."""

from collections import defaultdict

import numpy as np
import pytest
import torch
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.core.columns import Columns

from behaviorlab.algorithms.common.segments import BURN_IN_MASK, BURN_IN_OBS, OBS
from behaviorlab.algorithms.svg0_prior.config import SVG0PriorConfig
from behaviorlab.algorithms.svg0_prior.learner import module_checkpoint_dir
from behaviorlab.envs import register_with_tune

pytestmark = pytest.mark.integration
ENV = "PointMassNavigation-v0"


@pytest.fixture(scope="module")
def local_ray(local_ray):
    """The shared Ray instance, with the navigation env registered."""
    register_with_tune(ENV)
    return local_ray


def _config(**training):
    return (SVG0PriorConfig().environment(ENV, env_config={"num_targets": 3, "max_episode_steps": 100})
            .env_runners(num_env_runners=0, num_envs_per_env_runner=2)
            .training(prior_keys=["proprio", "targets"], policy_hiddens=[32], critic_hiddens=[32],
                      prior_hiddens=[32], action_samples=2, replay_start=200, replay_batch_segments=8,
                      samples_per_insert=16, target_update_period=5, **training)
            .reporting(min_sample_timesteps_per_iteration=400).debugging(seed=0))


def _module(algo):
    return algo.learner_group._learner.module["default_policy"].unwrapped()


def _prior_state(algo):
    return {name: value.clone() for name, value in _module(algo).prior.state_dict().items()}


def test_trains_on_dict_observations_with_an_asymmetric_prior(local_ray, tmp_path):
    algo = _config(kl_weight=0.1).build_algo()
    try:
        target_before = [p.clone() for p in _module(algo).target_policy.parameters()]
        prior_before = _prior_state(algo)
        for _ in range(2):
            result = algo.train()
        learner = result["learners"]["default_policy"]
        assert result["replay"]["updates_per_iteration"] > 0
        for key in ("critic_loss", "actor_loss", "prior_loss", "kl_to_prior", "importance_ratio_mean"):
            assert torch.isfinite(torch.tensor(learner[key])), key
        assert learner["kl_to_prior"] > 0
        assert any(not torch.equal(a, b) for a, b in zip(target_before, _module(algo).target_policy.parameters()))
        assert any(not torch.equal(prior_before[k], v) for k, v in _module(algo).prior.state_dict().items())
        # The prior's input is proprio + targets (4 + 6), not the next-target one-hot.
        assert _module(algo).prior.net[0].in_features == 10 and _module(algo).policy.net[0].in_features == 13
        # The acting copy holds only the policy.
        assert not hasattr(algo.env_runner.module, "critic") and not hasattr(algo.env_runner.module, "prior")

        buffered = algo.local_replay_buffer.get_num_timesteps()
        checkpoint = algo.save(str(tmp_path / "ckpt")).checkpoint.path
        trained_prior = _prior_state(algo)
    finally:
        algo.stop()

    restored = _config(kl_weight=0.1).build_algo()
    try:
        restored.restore(checkpoint)
        assert restored.local_replay_buffer.get_num_timesteps() == buffered
    finally:
        restored.stop()

    # Transfer: a new run starts from the trained prior and keeps it frozen.
    transfer = _config(kl_weight=0.1, prior_checkpoint=checkpoint, freeze_prior=True).build_algo()
    try:
        for name, value in _prior_state(transfer).items():
            torch.testing.assert_close(value, trained_prior[name])
        transfer.train()
        transfer.train()
        assert transfer.train()["replay"]["updates_per_iteration"] > 0
        for name, value in _prior_state(transfer).items():
            torch.testing.assert_close(value, trained_prior[name])
    finally:
        transfer.stop()


def test_a_missing_prior_checkpoint_is_reported_as_a_missing_input(tmp_path):
    config = _config(prior_checkpoint=str(tmp_path / "nothing"))
    config.validate()  # a transfer spec is valid before its pre-training run exists
    problem, fix = config.missing_inputs()["prior_checkpoint"]
    assert "is not a checkpoint directory" in problem and "pre-training spec first" in fix
    (tmp_path / "nothing").mkdir()
    assert _config(prior_checkpoint=str(tmp_path / "nothing")).missing_inputs() == {}


def test_a_trial_directory_names_its_newest_checkpoint(tmp_path, monkeypatch):
    trial = tmp_path / "trial_00000_seed=0"
    for name in ("checkpoint_000000", "checkpoint_000010", "checkpoint_000009"):
        (trial / name / "learner_group" / "learner" / "rl_module" / DEFAULT_MODULE_ID).mkdir(parents=True)
    monkeypatch.setenv("RESULTS", str(tmp_path))
    assert module_checkpoint_dir("$RESULTS/trial_00000_seed=0") == (
        trial / "checkpoint_000010" / "learner_group" / "learner" / "rl_module" / DEFAULT_MODULE_ID)


def test_prior_checkpoint_names_each_seeds_own_trial(tmp_path, monkeypatch):
    for name in ("trial_00000_seed=0", "trial_00001_seed=0", "trial_00002_seed=1", "trial_00003_seed=1"):
        (tmp_path / name / "checkpoint_000000").mkdir(parents=True)
    pattern = str(tmp_path / "trial_0000[13]_seed={seed}")
    assert module_checkpoint_dir(pattern, seed=1) == tmp_path / "trial_00003_seed=1" / "checkpoint_000000"
    monkeypatch.chdir(tmp_path)  # a relative path comes back absolute
    assert module_checkpoint_dir("trial_0000[13]_seed={seed}", seed=1) == (
        tmp_path / "trial_00003_seed=1" / "checkpoint_000000")
    assert _config(prior_checkpoint=pattern).debugging(seed=0).missing_inputs() == {}
    ambiguous = _config(prior_checkpoint=str(tmp_path / "trial_*_seed={seed}")).debugging(seed=1).missing_inputs()
    assert "matches 2 paths ['trial_00002_seed=1', 'trial_00003_seed=1'], not one" in ambiguous["prior_checkpoint"][0]
    absent = _config(prior_checkpoint=pattern).debugging(seed=2).missing_inputs()
    assert "matches 0 paths" in absent["prior_checkpoint"][0]


def test_lstm_prior_trains_with_a_burn_in_before_each_replayed_segment(local_ray):
    config = (_config(kl_weight=0.1, prior_type="lstm", prior_lstm_size=16, prior_burn_in=15)
              .env_runners(rollout_fragment_length=10))
    algo = config.build_algo()
    try:
        before = _prior_state(algo)
        learner = algo.train()["learners"]["default_policy"]
        assert learner["prior_loss"] > 0 and torch.isfinite(torch.tensor(learner["kl_to_prior"]))
        assert any(not torch.equal(before[k], v) for k, v in _module(algo).prior.state_dict().items())
        assert isinstance(_module(algo).prior.lstm, torch.nn.LSTM)
        # Each replayed segment comes with up to 15 earlier observations of its episode: those just
        # before its first (found by value in the whole episode; Dict observations: PointMass's).
        chunks = algo._replayed_segments()
        segments = algo._segments(chunks)
        real = segments[BURN_IN_MASK].sum(1).astype(int)
        assert real.max() == 15 and real.min() < 15, real
        buffer = algo.local_replay_buffer
        for row, chunk in enumerate(chunks):
            whole = buffer.episodes[buffer.episode_id_to_index[chunk.id_] - buffer._num_episodes_evicted]
            proprio = np.asarray(whole.get_observations(slice(0, len(whole) + 1))["proprio"])
            (first,) = np.flatnonzero((proprio == segments[OBS]["proprio"][row, 0]).all(1))
            np.testing.assert_array_equal(segments[BURN_IN_OBS]["proprio"][row, 15 - real[row]:],
                                          proprio[first - real[row]:first])
            assert real[row] == min(first, 15)
    finally:
        algo.stop()


def _weights(algo, name):
    return {key: value.clone() for key, value in getattr(_module(algo), name).state_dict().items()}


def _assert_same(weights, reference):
    for key, value in weights.items():
        torch.testing.assert_close(value, reference[key])


def _hierarchical_config(**training):
    return _config(hierarchical=True, latent_dim=4, lower_hiddens=[32], kl_weight=0.1, **training)


def test_hierarchical_variant_holds_z_trains_checkpoints_and_transfers_prior_and_lower_level(local_ray, tmp_path):
    algo = _hierarchical_config(hold_steps=3).build_algo()
    try:
        # z is held for 3 steps, across the boundary between two rollout fragments too (module state).
        pieces = defaultdict(list)
        for chunk in algo.env_runner.sample(num_timesteps=20) + algo.env_runner.sample(num_timesteps=20):
            pieces[chunk.id_].append(chunk)
        assert any(len(chunks) == 2 for chunks in pieces.values())
        for chunks in pieces.values():
            states = [chunk.get_extra_model_outputs(Columns.STATE_OUT) for chunk in chunks]
            countdown = np.concatenate([state["steps_left"] for state in states])
            latents = np.concatenate([state["latent"] for state in states])
            np.testing.assert_array_equal(countdown, [2 - t % 3 for t in range(len(countdown))])
            changed = (latents[1:] != latents[:-1]).any(-1)
            np.testing.assert_array_equal(changed, countdown[1:] == 2)

        prior_before, lower_before = _weights(algo, "prior"), _weights(algo, "lower")
        for _ in range(2):
            result = algo.train()
        learner = result["learners"]["default_policy"]
        assert result["replay"]["updates_per_iteration"] > 0
        for key in ("critic_loss", "actor_loss", "prior_loss", "kl_to_prior", "importance_ratio_mean"):
            assert np.isfinite(learner[key]), key
        assert learner["kl_to_prior"] > 0
        assert 0.25 < learner["resampled_fraction"] < 0.45
        assert any(not torch.equal(prior_before[k], v) for k, v in _weights(algo, "prior").items())
        assert any(not torch.equal(lower_before[k], v) for k, v in _weights(algo, "lower").items())
        # The acting copy holds both policy levels, and nothing else.
        acting = algo.env_runner.module
        assert hasattr(acting, "policy") and hasattr(acting, "lower")
        assert not any(hasattr(acting, name) for name in ("critic", "prior", "target_lower"))

        buffered = algo.local_replay_buffer.get_num_timesteps()
        checkpoint = algo.save(str(tmp_path / "ckpt")).checkpoint.path
        trained = {name: _weights(algo, name) for name in ("prior", "lower", "policy")}
    finally:
        algo.stop()

    restored = _hierarchical_config(hold_steps=3).build_algo()
    try:
        restored.restore(checkpoint)
        assert restored.local_replay_buffer.get_num_timesteps() == buffered
        for name, weights in trained.items():
            _assert_same(_weights(restored, name), weights)
    finally:
        restored.stop()

    # Transfer to a new task (other target order, other layout): π0^H and the shared lower level are
    # loaded and stay frozen, while the new high-level policy learns.
    transfer = (_hierarchical_config(hold_steps=3, prior_checkpoint=checkpoint, freeze_prior=True,
                                     freeze_lower_level=True)
                .environment(env_config={"num_targets": 3, "max_episode_steps": 100, "sequence_seeds": [7],
                                         "layout_seed": 7})
                .build_algo())
    try:
        _assert_same(_weights(transfer, "prior"), trained["prior"])
        _assert_same(_weights(transfer, "lower"), trained["lower"])
        policy_start = _weights(transfer, "policy")
        updates = sum(transfer.train()["replay"]["updates_per_iteration"] for _ in range(3))
        assert updates > 0
        _assert_same(_weights(transfer, "prior"), trained["prior"])
        _assert_same(_weights(transfer, "lower"), trained["lower"])
        assert any(not torch.equal(policy_start[k], v) for k, v in _weights(transfer, "policy").items())
    finally:
        transfer.stop()


def test_hierarchical_variant_with_a_separate_lower_level_distils_both_prior_levels(local_ray):
    algo = _hierarchical_config(shared_lower_level=False).build_algo()
    try:
        before = {name: _weights(algo, name) for name in ("prior", "prior_lower")}
        result = algo.train()
        learner = result["learners"]["default_policy"]
        assert result["replay"]["updates_per_iteration"] > 0
        assert np.isfinite(learner["prior_loss"]) and learner["kl_to_prior"] > 0
        for name, weights in before.items():
            assert any(not torch.equal(weights[k], v) for k, v in _weights(algo, name).items()), name
    finally:
        algo.stop()
