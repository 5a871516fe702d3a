"""LBC's config checks, its callbacks composing with others, the ψ connector's batch alignment, and
the meta-controller service's metrics."""

import gymnasium as gym
import numpy as np
import pytest
from ray.rllib.callbacks.callbacks import RLlibCallback
from ray.rllib.connectors.env_to_module import BatchIndividualItems
from ray.rllib.core.columns import Columns
from ray.rllib.env.single_agent_episode import SingleAgentEpisode
from ray.rllib.utils import force_list

from behaviorlab.algorithms.lbc.config import LBCConfig
from behaviorlab.algorithms.lbc.controller_service import MetaControllerService
from behaviorlab.algorithms.lbc.meta_controller import MetaControllerConfig
from behaviorlab.algorithms.lbc.psi import ARM, OMEGA, TAU, LBCCallbacks, PsiToBatch, set_episode_psi

OBS_SPACE, ACTION_SPACE = gym.spaces.Box(-1.0, 1.0, (3,)), gym.spaces.Discrete(2)


def _validated(**training):
    config = LBCConfig().environment("CartPole-v1").training(**training)
    config.validate()
    return config


def test_defaults_validate_and_give_three_members_and_the_default_bandit():
    config = _validated()
    assert config.num_members == 3 and len(config.member_gammas) == len(config.member_entropy_coeffs) == 3
    assert config.meta_controller_config() == MetaControllerConfig()
    assert config.inference_psi_omega() == pytest.approx([1 / 3] * 3)


class _PlatformCallbacks(RLlibCallback):
    pass


def test_lbc_callbacks_join_callbacks_set_elsewhere():
    config = LBCConfig().environment("CartPole-v1").callbacks(_PlatformCallbacks)
    config.validate()
    assert config.callbacks_class == [_PlatformCallbacks, LBCCallbacks]
    config.validate()  # idempotent
    assert config.callbacks_class == [_PlatformCallbacks, LBCCallbacks]

    class _Extended(LBCCallbacks):
        pass

    extended = LBCConfig().environment("CartPole-v1").callbacks(_Extended)
    extended.validate()
    assert force_list(extended.callbacks_class) == [_Extended]  # a subclass already draws ψ: not twice


@pytest.mark.parametrize(
    "training, match",
    [
        ({"member_gammas": [0.99, 0.9]}, "member_gammas must list num_members=3"),
        ({"num_members": 2}, "member_gammas must list num_members=2"),
        ({"member_entropy_coeffs": [0.01, -0.1, 0.0]}, "member_entropy_coeffs"),
        ({"gamma": 0.9}, "set member_gammas, not gamma"),
        ({"entropy_coeff": 0.01}, "set member_entropy_coeffs"),
        ({"behavior_statistic": "advantages"}, "behavior_statistic"),
        ({"inference_omega": [0.5, 0.6, 0.0]}, "inference_omega"),
        ({"meta_controller": {"epsilon": 2.0}}, "meta_controller: MetaControllerConfig: epsilon"),
        ({"meta_controller": {"epsilonn": 0.1}}, "meta_controller: .*epsilonn"),
        ({"meta_controller": {"bandits": [[1.0, 21]]}}, r"window must exceed the number of arms \(21\)"),
        ({"meta_controller": {"pinned_arm": 21}}, "pinned_arm"),
        ({"meta_controller": {"td_weight": 0.5}}, "td_weight has no effect"),
        ({"psi_in_evaluation": "best"}, "psi_in_evaluation must be one of"),
    ],
)
def test_bad_configs_are_refused(training, match):
    with pytest.raises(ValueError, match=match):
        _validated(**training)


def test_baselines_are_meta_controller_configs():
    uniform = _validated(meta_controller={"epsilon": 1.0})
    assert uniform.meta_controller_config().epsilon == 1.0
    single = _validated(meta_controller={"omega_modes": ["one_hot"], "tau_range": [1.0, 1.0], "num_tau_bins": 1, "pinned_arm": 2})
    service = MetaControllerService(3, single.meta_controller_config(), seed=0)
    for _ in range(5):
        arm, tau, omega = service.select()
        assert arm == 2 and tau.tolist() == [1.0] * 3 and omega.tolist() == [0.0, 0.0, 1.0]


def _episode(obs, arm, tau, omega):
    episode = SingleAgentEpisode(observations=[np.asarray(obs, dtype=np.float32)], observation_space=OBS_SPACE,
                                 action_space=ACTION_SPACE)
    set_episode_psi(episode, arm, tau, omega)
    return episode


def test_env_to_module_pipeline_puts_each_episodes_psi_next_to_its_observation():
    config = _validated()
    pipeline = config.build_env_to_module_connector(spaces={"__env_single__": (OBS_SPACE, ACTION_SPACE)})
    names = [type(piece) for piece in pipeline.connectors]
    assert names.index(PsiToBatch) == names.index(BatchIndividualItems) - 1
    episodes = [_episode([0.1, 0.2, 0.3], 4, [0.5, 1.0, 2.0], [1.0, 0.0, 0.0]),
                _episode([-0.1, -0.2, -0.3], 7, [3.0, 0.2, 0.1], [0.2, 0.3, 0.5])]
    batch = pipeline(rl_module=None, batch={}, episodes=episodes, explore=True, shared_data={})
    np.testing.assert_allclose(np.asarray(batch[Columns.OBS]), [[0.1, 0.2, 0.3], [-0.1, -0.2, -0.3]])
    np.testing.assert_allclose(np.asarray(batch[TAU]), [[0.5, 1.0, 2.0], [3.0, 0.2, 0.1]])
    np.testing.assert_allclose(np.asarray(batch[OMEGA]), [[1.0, 0.0, 0.0], [0.2, 0.3, 0.5]])
    assert np.asarray(batch[ARM]).tolist() == [4, 7]


def test_an_episode_without_psi_is_an_error_naming_the_callbacks():
    episode = SingleAgentEpisode(observations=[np.zeros(3, np.float32)], observation_space=OBS_SPACE, action_space=ACTION_SPACE)
    with pytest.raises(RuntimeError, match="LBCCallbacks"):
        PsiToBatch()(rl_module=None, batch={}, episodes=[episode])


def test_service_reports_pulls_shares_and_recent_psi():
    config = MetaControllerConfig(num_tau_bins=1, omega_modes=("one_hot",), bandits=((1.0, 50),), epsilon=0.0)
    service = MetaControllerService(2, config, seed=0, recent_selections=4)
    draws = []
    for _ in range(6):
        arm, tau, omega = service.select()
        draws.append((arm, tau, omega))
        service.update(arm, 10.0 if arm == 0 else 0.0)
    metrics = service.metrics()
    arms = [arm for arm, _, _ in draws]
    assert metrics["episodes"] == 6 and metrics["selections"] == 6
    assert [metrics[f"arm_{k:02d}"]["pulls"] for k in range(2)] == np.bincount(arms, minlength=2).tolist()
    recent = draws[-4:]
    assert metrics["arm_00"]["recent_share"] == pytest.approx(sum(a == 0 for a, _, _ in recent) / 4)
    for i in range(2):
        assert metrics["recent_psi"]["tau_mean"][f"member_{i}"] == pytest.approx(np.mean([t[i] for _, t, _ in recent]))
        assert metrics["recent_psi"]["omega_mean"][f"member_{i}"] == pytest.approx(np.mean([w[i] for _, _, w in recent]))
    assert metrics["arm_00"]["window_mean_return"] == pytest.approx(10.0)
    restored = MetaControllerService(2, config, seed=99)
    restored.set_state(service.get_state())
    assert restored.select()[0] == service.select()[0]


def test_service_evaluation_draws_psi_inside_the_best_arm_without_counting_it():
    config = MetaControllerConfig(num_tau_bins=2, omega_modes=("one_hot",), bandits=((1.0, 50),))
    service = MetaControllerService(2, config, seed=0)
    arm, _, _ = service.select_best()  # before any episode: some arm, still no selection counted
    assert 0 <= arm < 4 and service.metrics()["selections"] == 0
    for arm in range(4):
        service.update(arm, 5.0 if arm == 2 else 1.0)
    state = service.get_state()
    region = service.controller.arms[2]
    for _ in range(5):
        arm, tau, omega = service.select_best()
        assert arm == 2
        assert ((tau >= region.tau_low) & (tau <= region.tau_high)).all() and omega.tolist() == [1.0, 0.0]
    assert service.get_state() == state  # the bandit's RNG and counters are where they were


def test_config_dict_round_trip_keeps_the_evaluation_psi():
    # RLlib routes dict keys named evaluation_* to `.evaluation()`, which has no LBC field: the name must avoid it.
    config = LBCConfig().training(psi_in_evaluation="best_arm")
    assert LBCConfig().update_from_dict(config.to_dict()).psi_in_evaluation == "best_arm"
