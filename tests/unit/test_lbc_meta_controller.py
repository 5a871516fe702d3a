"""LBC meta-controller: arm regions, non-stationary tracking, collapse guards, checkpoint round trip."""

import dataclasses
import math
import pickle

import numpy as np
import pytest

from behaviorlab.algorithms.lbc.meta_controller import MetaController, MetaControllerConfig, build_arms

# 2 members × 2 τ bins × one-hot ω = 4 arms, windows well above 4.
FOUR_ARMS = MetaControllerConfig(num_tau_bins=2, omega_modes=("one_hot",), bandits=((0.5, 200), (1.0, 100)))


def _bernoulli_reward(rng, arm, best):
    return float(rng.random() < (0.8 if arm == best else 0.2))


def _play_switching_arms(config, seed, before=3000, after=1000, old_best=0, new_best=3):
    """Run the controller on Bernoulli arms whose best arm switches; returns (arms chosen, total reward)."""
    controller = MetaController(2, config, seed=seed)
    rewards = np.random.default_rng(1000 + seed)
    chosen, total = [], 0.0
    for step in range(before + after):
        arm, _ = controller.select()
        reward = _bernoulli_reward(rewards, arm, old_best if step < before else new_best)
        controller.update(arm, reward)
        chosen.append(arm)
        total += reward
    return np.array(chosen), total


def _uniform_total(seed, num_arms=4, before=3000, after=1000, old_best=0, new_best=3):
    choices, rewards = np.random.default_rng(seed), np.random.default_rng(1000 + seed)
    return sum(_bernoulli_reward(rewards, int(choices.integers(num_arms)), old_best if step < before else new_best) for step in range(before + after))


def test_sliding_window_follows_the_best_arm_after_it_switches_and_beats_uniform():
    plain_ucb = MetaControllerConfig(num_tau_bins=2, omega_modes=("one_hot",), bandits=((0.5, 5000),))
    windowed_shares, plain_shares = [], []
    for seed in range(5):
        chosen, total = _play_switching_arms(FOUR_ARMS, seed)
        assert np.mean(chosen[2000:3000] == 0) > 0.6  # it had found the first best arm
        windowed_shares.append(np.mean(chosen[-500:] == 3))
        assert windowed_shares[-1] > 0.6, f"seed {seed}: new best arm share {windowed_shares[-1]:.2f}"
        assert total > 1.4 * _uniform_total(seed), f"seed {seed}: {total} vs uniform {_uniform_total(seed)}"
        plain_shares.append(np.mean(_play_switching_arms(plain_ucb, seed)[0][-500:] == 3))
    # A window longer than the run is plain UCB: 3000 pulls of history pin it to the old best arm.
    assert np.mean(windowed_shares) > np.mean(plain_shares) + 0.4, (windowed_shares, plain_shares)


def test_every_arm_is_selected_min_pulls_times_before_ucb_or_epsilon():
    config = MetaControllerConfig(num_tau_bins=2, omega_modes=("one_hot",), bandits=((0.0, 50),), epsilon=0.5, min_pulls=3)
    controller = MetaController(2, config, seed=0)
    warm_up = [controller.select()[0] for _ in range(3 * controller.num_arms)]
    assert np.bincount(warm_up, minlength=4).tolist() == [3, 3, 3, 3]


@pytest.mark.parametrize("epsilon", [0.1, 0.3])
def test_epsilon_floor_keeps_every_arm_selected(epsilon):
    # c = 0 and a window longer than the run: UCB alone would never leave arm 0 again.
    config = MetaControllerConfig(num_tau_bins=2, omega_modes=("one_hot",), bandits=((0.0, 5000),), epsilon=epsilon)
    controller = MetaController(2, config, seed=1)
    for _ in range(4000):
        arm, _ = controller.select()
        controller.update(arm, 1.0 if arm == 0 else 0.0)
    share = controller.stats()["selection_share"]
    assert share[0] > 1 - epsilon  # it exploits
    assert (share[1:] > 0.8 * epsilon / 4).all() and (share[1:] < 1.5 * epsilon / 4).all(), share


def test_without_epsilon_the_same_setup_collapses():
    config = MetaControllerConfig(num_tau_bins=2, omega_modes=("one_hot",), bandits=((0.0, 5000),), epsilon=0.0)
    controller = MetaController(2, config, seed=1)
    for _ in range(2000):
        arm, _ = controller.select()
        controller.update(arm, 1.0 if arm == 0 else 0.0)
    assert controller.stats()["selections"][1:].tolist() == [1, 1, 1]  # warm-up only


def test_default_arms_for_three_members():
    arms = build_arms(3, MetaControllerConfig())
    # 3 τ bins × (3 one-hot + 3 dominant + 1 uniform).
    assert len(arms) == 21
    edges = sorted({arm.tau_low for arm in arms} | {arm.tau_high for arm in arms})
    np.testing.assert_allclose(edges, np.geomspace(0.1, 10.0, 4))
    assert [arm.label for arm in arms[:7]] == [
        "tau[0.1,0.464]/one_hot[0]", "tau[0.1,0.464]/one_hot[1]", "tau[0.1,0.464]/one_hot[2]",
        "tau[0.1,0.464]/dominant[0]", "tau[0.1,0.464]/dominant[1]", "tau[0.1,0.464]/dominant[2]",
        "tau[0.1,0.464]/uniform",
    ]
    assert len(build_arms(1, MetaControllerConfig())) == 3  # one member: one arm per τ bin


def test_psi_sampled_from_an_arm_lies_inside_its_region():
    config = MetaControllerConfig(omega_modes=("one_hot", "dominant", "uniform", "simplex"), bandits=((1.0, 100),))
    controller = MetaController(3, config, seed=0)
    rng = np.random.default_rng(0)
    for arm in controller.arms:
        for _ in range(50):
            psi = arm.sample(rng)
            tau, omega = psi["tau"], psi["omega"]
            assert tau.shape == omega.shape == (3,)
            assert ((tau >= arm.tau_low) & (tau <= arm.tau_high)).all()
            assert (omega >= 0).all() and math.isclose(omega.sum(), 1.0, abs_tol=1e-12)
            if arm.omega_mode == "one_hot":
                assert omega.tolist() == [float(i == arm.member) for i in range(3)]
            elif arm.omega_mode == "dominant":
                assert arm.dominant_min_weight <= omega[arm.member] < 1.0
            elif arm.omega_mode == "uniform":
                assert omega.tolist() == [1 / 3] * 3
    # select() samples inside the arm it reports.
    for _ in range(100):
        index, psi = controller.select()
        arm = controller.arms[index]
        assert ((psi["tau"] >= arm.tau_low) & (psi["tau"] <= arm.tau_high)).all()


def test_tau_is_spread_over_the_bin_on_a_log_scale():
    arm = build_arms(2, MetaControllerConfig(tau_range=(0.01, 100.0), num_tau_bins=1, omega_modes=("uniform",)))[0]
    rng = np.random.default_rng(0)
    log_tau = np.log10(np.concatenate([arm.sample(rng)["tau"] for _ in range(2000)]))
    assert abs(np.median(log_tau)) < 0.15 and log_tau.min() < -1.8 and log_tau.max() > 1.8


def _drive(controller, steps, seed):
    rewards = np.random.default_rng(seed)
    trace = []
    for _ in range(steps):
        arm, psi = controller.select()
        controller.update(arm, float(rewards.normal(arm, 1.0)), exploration_bonus=float(rewards.random()))
        trace.append((arm, psi["tau"].tolist(), psi["omega"].tolist()))
    return trace


def test_state_round_trip_continues_identically():
    original = MetaController(3, seed=7)
    _drive(original, 300, seed=1)
    state = pickle.loads(pickle.dumps(original.get_state()))
    continued = _drive(original, 200, seed=2)

    restored = MetaController(3, seed=12345)
    restored.set_state(state)
    assert _drive(restored, 200, seed=2) == continued
    for key, value in original.stats().items():
        np.testing.assert_array_equal(restored.stats()[key], value)


def test_same_seed_same_selections_and_other_seed_differs():
    assert _drive(MetaController(3, seed=3), 200, seed=0) == _drive(MetaController(3, seed=3), 200, seed=0)
    assert _drive(MetaController(3, seed=3), 200, seed=0) != _drive(MetaController(3, seed=4), 200, seed=0)


def test_config_from_yaml_lists_equals_the_tuple_config():
    from_lists = MetaControllerConfig(tau_range=[0.1, 10.0], omega_modes=["one_hot", "dominant", "uniform"], bandits=[[0.5, 400], [1.0, 200], [1.5, 100]])
    assert from_lists == MetaControllerConfig()
    MetaController(3, from_lists).set_state(MetaController(3).get_state())


def test_set_state_rejects_another_configuration():
    state = MetaController(3, seed=0).get_state()
    with pytest.raises(ValueError, match="different configuration"):
        MetaController(2, seed=0).set_state(state)
    with pytest.raises(ValueError, match="different configuration"):
        MetaController(3, MetaControllerConfig(epsilon=0.2), seed=0).set_state(state)


def test_reward_adds_weighted_exploration_bonus_and_stats_count_pulls():
    controller = MetaController(2, dataclasses.replace(FOUR_ARMS, td_weight=0.5), seed=0)
    controller.update(1, 3.0, exploration_bonus=2.0)
    controller.update(1, 1.0)
    stats = controller.stats()
    assert stats["pulls"].tolist() == [0, 2, 0, 0]
    assert stats["window_mean_reward"][1] == pytest.approx((4.0 + 1.0) / 2)
    assert np.isnan(stats["window_mean_reward"][0])
    assert stats["selections"].sum() == 0 and stats["selection_share"].tolist() == [0.0] * 4
    for _ in range(248):
        controller.update(2, 0.0)
    stats = controller.stats()
    assert stats["pulls"].sum() == 250 and stats["window_pulls"].tolist() == [0, 0, 200, 0]  # largest window: 200


def test_pinned_arm_is_always_selected():
    controller = MetaController(3, MetaControllerConfig(pinned_arm=6), seed=0)
    assert controller.arms[6].omega_mode == "uniform"
    for _ in range(50):
        arm, psi = controller.select()
        controller.update(arm, 0.0)
        assert arm == 6 and psi["omega"].tolist() == [1 / 3] * 3


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"tau_range": (0.0, 1.0)}, "tau_range"),
        ({"tau_range": (1.0, 1.0), "num_tau_bins": 2}, "num_tau_bins"),
        ({"omega_modes": ("one_hot", "greedy")}, "omega_modes"),
        ({"dominant_min_weight": 1.0}, "dominant_min_weight"),
        ({"bandits": ()}, "bandits"),
        ({"epsilon": 1.5}, "epsilon"),
    ],
)
def test_bad_config_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MetaControllerConfig(**kwargs)


def test_bad_controller_use_raises():
    with pytest.raises(ValueError, match=r"window must exceed the number of arms \(21\)"):
        MetaController(3, MetaControllerConfig(bandits=((1.0, 21),)))
    with pytest.raises(ValueError, match="pinned_arm"):
        MetaController(3, MetaControllerConfig(pinned_arm=21))
    controller = MetaController(3)
    with pytest.raises(ValueError, match="arm must be in"):
        controller.update(21, 1.0)
    with pytest.raises(ValueError, match="finite"):
        controller.update(0, math.nan)


def test_best_arm_is_the_highest_window_mean_and_leaves_the_bandit_untouched():
    config = MetaControllerConfig(num_tau_bins=2, omega_modes=("one_hot",), bandits=((0.5, 6),))
    controller = MetaController(2, config, seed=0)
    assert controller.best_arm() is None  # nothing reported yet
    # Arm 1 leads on mean (7 vs 5); arm 3 (mean 9) has left the 6-pull window.
    for arm, reward in [(3, 9.0), (3, 9.0), (0, 4.0), (0, 6.0), (1, 7.0), (2, 1.0), (2, 2.0), (1, 7.0)]:
        controller.update(arm, reward)
    before = pickle.dumps(controller.get_state())
    assert controller.best_arm() == 1
    assert pickle.dumps(controller.get_state()) == before  # no counter, window or RNG moved
    controller.update(0, 20.0)  # the window now holds arm 0 at (6 + 20) / 2 = 13
    assert controller.best_arm() == 0
