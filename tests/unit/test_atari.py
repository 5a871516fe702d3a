"""Atari envs (ALE v5 + gymnasium preprocessing) and the Atari-57 reference scores."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from behaviorlab.envs.atari import ALL_ATARI_IDS, ATARI_57, make_atari
from behaviorlab.envs.atari_scores import (
    HUMAN_SCORES,
    HUMAN_WORLD_RECORDS,
    RANDOM_SCORES,
    game_name,
    hns,
    hns_summary,
    hwrb,
    interquartile_mean,
    iqm_hns,
)


# --- registry and tables -------------------------------------------------------------------

def test_atari_57_ids_are_57_distinct_registered_v5_ids():
    assert len(ATARI_57) == 57 == len(set(ATARI_57))
    missing = [env_id for env_id in ATARI_57 if env_id not in gym.registry]
    assert missing == []
    assert set(ATARI_57) <= set(ALL_ATARI_IDS)
    assert list(ALL_ATARI_IDS) == sorted(ALL_ATARI_IDS)
    assert all(i.startswith("ALE/") and i.endswith("-v5") for i in ALL_ATARI_IDS)


def test_score_tables_cover_exactly_the_57_games():
    games = {game_name(env_id) for env_id in ATARI_57}
    assert len(games) == 57
    assert set(RANDOM_SCORES) == set(HUMAN_SCORES) == set(HUMAN_WORLD_RECORDS) == games
    # Human beats random everywhere, and the world record is at least the human tester's score.
    assert all(HUMAN_SCORES[g] > RANDOM_SCORES[g] for g in games)
    assert all(HUMAN_WORLD_RECORDS[g] >= HUMAN_SCORES[g] for g in games)


def test_known_reference_values():
    assert (RANDOM_SCORES["Pong"], HUMAN_SCORES["Pong"], HUMAN_WORLD_RECORDS["Pong"]) == (-20.7, 14.6, 21.0)
    assert (RANDOM_SCORES["Breakout"], HUMAN_SCORES["Breakout"], HUMAN_WORLD_RECORDS["Breakout"]) == (1.7, 30.5, 864.0)
    assert (RANDOM_SCORES["MontezumaRevenge"], HUMAN_SCORES["MontezumaRevenge"]) == (0.0, 4753.3)
    assert HUMAN_WORLD_RECORDS["MontezumaRevenge"] == 1219200.0
    assert (RANDOM_SCORES["Alien"], HUMAN_SCORES["Alien"], HUMAN_WORLD_RECORDS["Alien"]) == (227.8, 7127.7, 251916.0)


@pytest.mark.parametrize(
    ("env_id", "game"),
    [("ALE/Pong-v5", "Pong"), ("ALE/MontezumaRevenge-v5", "MontezumaRevenge"), ("Pong", "Pong"),
     ("PongNoFrameskip-v4", "Pong"), ("ALE/Pitfall2-v5", "Pitfall2")],
)
def test_game_name(env_id, game):
    assert game_name(env_id) == game


# --- preprocessing -------------------------------------------------------------------------

def _check_obs(env, obs, shape, dtype=np.uint8):
    assert obs.shape == shape
    assert obs.dtype == dtype
    assert env.observation_space.shape == shape
    assert env.observation_space.dtype == dtype
    assert env.observation_space.contains(obs)


def test_default_preprocessing_gives_84x84x4_float_in_unit_range():
    env = make_atari("ALE/Pong-v5")
    try:
        obs, _ = env.reset(seed=0)
        _check_obs(env, obs, (84, 84, 4), np.float32)
        assert 0.0 <= obs.min() and obs.max() <= 1.0 and obs.max() > 0.0
    finally:
        env.close()


def test_unscaled_preprocessing_gives_84x84x4_uint8_channels_last():
    env = make_atari("ALE/Pong-v5", scale_obs=False)
    try:
        obs, _ = env.reset(seed=0)
        _check_obs(env, obs, (84, 84, 4))
        for _ in range(3):
            obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            _check_obs(env, obs, (84, 84, 4))
            assert not (terminated or truncated)
        assert obs.flags["C_CONTIGUOUS"]
    finally:
        env.close()


def test_stack_axis_is_last_and_oldest_frame_first():
    # After reset the stack holds copies of the first frame; each step shifts the newest in at the end.
    env = make_atari("ALE/Breakout-v5", noop_max=0, frame_stack=3, scale_obs=False)
    try:
        obs0, _ = env.reset(seed=0)
        assert all(np.array_equal(obs0[..., i], obs0[..., 0]) for i in range(3))
        obs1 = obs0
        for _ in range(4):  # FIRE launches the ball; the picture changes within a few steps
            obs1, *_ = env.step(1)
        obs2, *_ = env.step(1)
        assert not np.array_equal(obs2[..., 2], obs1[..., 2])  # a new frame came in
        assert np.array_equal(obs2[..., 1], obs1[..., 2])
        assert np.array_equal(obs2[..., 0], obs1[..., 1])
    finally:
        env.close()


def test_rgb_variant_stacks_colour_channels():
    env = make_atari("ALE/Pong-v5", grayscale=False, frame_stack=4, scale_obs=False)
    try:
        obs, _ = env.reset(seed=0)
        _check_obs(env, obs, (84, 84, 12))
        obs, *_ = env.step(0)
        _check_obs(env, obs, (84, 84, 12))
    finally:
        env.close()


def test_screen_size_and_frame_stack_are_honoured():
    env = make_atari("ALE/Pong-v5", screen_size=42, frame_stack=2, scale_obs=False)
    try:
        obs, _ = env.reset(seed=0)
        _check_obs(env, obs, (42, 42, 2))
    finally:
        env.close()


def test_no_preprocessing_gives_raw_frames():
    env = make_atari("ALE/Pong-v5", preprocess=False)
    try:
        obs, _ = env.reset(seed=0)
        _check_obs(env, obs, (210, 160, 3))
        assert env.unwrapped._frameskip == 4
        assert env.unwrapped.ale.getFloat("repeat_action_probability") == pytest.approx(0.25)
    finally:
        env.close()


def test_preprocessed_env_configures_the_ale_as_asked():
    env = make_atari("ALE/Pong-v5", sticky_actions=0.0, full_action_space=True, max_episode_frames=5000)
    try:
        ale_env = env.unwrapped
        assert ale_env._frameskip == 1  # AtariPreprocessing does the skipping (and max-pooling)
        assert ale_env.ale.getFloat("repeat_action_probability") == 0.0
        assert env.action_space.n == 18
        assert ale_env.ale.getInt("max_num_frames_per_episode") == 5000
    finally:
        env.close()


def test_episode_is_truncated_at_max_episode_frames():
    env = make_atari("ALE/Pong-v5", noop_max=0, frame_skip=4, max_episode_frames=40)
    try:
        env.reset(seed=0)
        ends = [env.step(0)[2:4] for _ in range(10)]
        assert ends[-1] == (False, True)  # 10 agent steps x 4 frames = the 40-frame cap
        assert all(end == (False, False) for end in ends[:-1])
    finally:
        env.close()


class _ConstantRewardALE:
    """Stands in for the ALE interface: plays the real emulator but pays a fixed reward per frame."""

    def __init__(self, ale, reward):
        self._ale, self._reward = ale, reward

    def act(self, *args):
        self._ale.act(*args)
        return self._reward

    def __getattr__(self, name):
        return getattr(self._ale, name)


@pytest.mark.parametrize(("per_frame", "clipped"), [(0.1, 1.0), (-0.1, -1.0), (0.0, 0.0), (25.0, 1.0), (-7.0, -1.0)])
def test_clip_rewards_gives_the_sign_of_the_step_reward(per_frame, clipped):
    rewards = {}
    for clip in (False, True):
        env = make_atari("ALE/Pong-v5", noop_max=0, frame_skip=4, clip_rewards=clip)
        try:
            env.reset(seed=0)
            env.unwrapped.ale = _ConstantRewardALE(env.unwrapped.ale, per_frame)
            rewards[clip] = [env.step(0)[1] for _ in range(2)]
        finally:
            env.close()
    assert rewards[False] == pytest.approx([4 * per_frame] * 2)  # frame_skip sums 4 frames
    assert rewards[True] == [clipped] * 2  # the sign, not a clip to [-1, 1] (0.4 -> 1.0)


def test_episodic_life_ends_the_episode_on_a_life_loss():
    env = make_atari("ALE/Breakout-v5", episodic_life=True)
    try:
        env.reset(seed=0)
        env.action_space.seed(0)
        ale = env.unwrapped.ale
        start_lives = ale.lives()
        for _ in range(2000):
            *_, terminated, truncated, _ = env.step(env.action_space.sample())
            if terminated or truncated:
                break
        assert terminated and not truncated
        assert ale.lives() == start_lives - 1
        assert not ale.game_over()  # the game itself goes on; only the episode ended
    finally:
        env.close()


def test_without_episodic_life_a_life_loss_does_not_end_the_episode():
    env = make_atari("ALE/Breakout-v5", episodic_life=False)
    try:
        env.reset(seed=0)
        env.action_space.seed(0)
        ale = env.unwrapped.ale
        start_lives = ale.lives()
        for _ in range(2000):
            *_, terminated, truncated, _ = env.step(env.action_space.sample())
            assert not truncated
            if ale.lives() < start_lives:
                break
        assert ale.lives() == start_lives - 1
        assert not terminated
    finally:
        env.close()


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"env_id": "ALE/NotAGame-v5"}, "env_id"),
        ({"env_id": "CartPole-v1"}, "env_id"),
        ({"frame_skip": 0}, "frame_skip"),
        ({"frame_skip": 2.5}, "frame_skip"),
        ({"screen_size": 4}, "screen_size"),
        ({"sticky_actions": 1.5}, "sticky_actions"),
        ({"sticky_actions": -0.1}, "sticky_actions"),
        ({"noop_max": -1}, "noop_max"),
        ({"frame_stack": 0}, "frame_stack"),
        ({"max_episode_frames": -1}, "max_episode_frames"),
        ({"render_mode": "ascii"}, "render_mode"),
    ],
)
def test_invalid_arguments_raise_value_error_naming_the_argument(kwargs, argument):
    kwargs = {"env_id": "ALE/Pong-v5", **kwargs}
    with pytest.raises(ValueError, match=rf"^{argument} must be .*, got "):
        make_atari(**kwargs)


# --- HNS and HWRB --------------------------------------------------------------------------

def test_hns_on_known_values():
    assert hns("Pong", 14.6) == pytest.approx(1.0)
    assert hns("Pong", -20.7) == pytest.approx(0.0)
    assert hns("ALE/Breakout-v5", 30.5) == pytest.approx(1.0)
    assert hns("MontezumaRevenge", 2 * 4753.3) == pytest.approx(2.0)
    assert hns("Breakout", 1.7 - 28.8) == pytest.approx(-1.0)


def test_hns_unknown_game_raises_key_error_with_message():
    with pytest.raises(KeyError, match="no reference scores for 'ALE/Tetris-v5'"):
        hns("ALE/Tetris-v5", 10.0)


def test_hns_summary_mean_and_median():
    # HNS: Pong 1.0, Breakout 0.0, MontezumaRevenge 4.0 -> mean 5/3, median 1.0.
    summary = hns_summary({"Pong": 14.6, "ALE/Breakout-v5": 1.7, "MontezumaRevenge": 4 * 4753.3})
    assert summary["num_games"] == 3
    assert summary["mean_hns"] == pytest.approx(5 / 3)
    assert summary["median_hns"] == pytest.approx(1.0)


def test_hns_summary_rejects_empty_and_duplicate_games():
    with pytest.raises(ValueError, match="empty"):
        hns_summary({})
    with pytest.raises(ValueError, match="'Pong'"):
        hns_summary({"Pong": 1.0, "ALE/Pong-v5": 2.0})


def test_interquartile_mean_is_the_mean_of_the_middle_half():
    assert interquartile_mean([8, 1, 7, 2, 6, 3, 5, 4]) == pytest.approx(4.5)  # mean of 3, 4, 5, 6
    assert interquartile_mean([100.0, 1.0, 2.0, -50.0]) == pytest.approx(1.5)  # outliers cut
    assert interquartile_mean([[1, 2, 3, 100], [4, 4, 4, 4]], axis=1).tolist() == [2.5, 4.0]


def test_iqm_hns_stratified_bootstrap_interval():
    # HNS of Pong scores −20.7, 14.6 are 0 and 1; Breakout 1.7, 30.5 likewise.
    result = iqm_hns({"Pong": [-20.7, 14.6, 14.6, -20.7], "ALE/Breakout-v5": [1.7, 1.7, 30.5, 30.5]})
    assert result["iqm_hns"] == pytest.approx(0.5) and result["runs"] == 4
    assert 0.0 <= result["low"] < 0.5 < result["high"] <= 1.0
    same = iqm_hns({"Pong": [14.6, 14.6, 14.6]})  # no spread: the interval is the point
    assert (same["iqm_hns"], same["low"], same["high"]) == pytest.approx((1.0, 1.0, 1.0))
    # Games with different seed counts use the fewest; resampling stays within each game (stratified).
    uneven = iqm_hns({"Pong": [14.6, -20.7, 0.0], "Breakout": [30.5, 30.5]})
    assert uneven["runs"] == 2 and uneven["iqm_hns"] == pytest.approx(1.0)
    assert uneven["low"] < 1.0
    with pytest.raises(ValueError, match="at least one"):
        iqm_hns({"Pong": []})


def test_hwrb_counts_records_reached_or_broken():
    scores = {
        "Pong": 21.0,               # equal to the record: counts (>=)
        "ALE/Breakout-v5": 863.0,   # one short
        "Skiing": -3000.0,          # negative scale: -3000 >= -3272 counts
        "MontezumaRevenge": 0.0,
    }
    assert hwrb(scores) == 2
    assert hwrb({}) == 0
