"""Atari (ALE v5) environments with the standard DQN-family preprocessing.

Everything is built from gymnasium's own wrappers so the semantics are the documented ones:
``AtariPreprocessing`` (no-op starts, frame skip with max-pooling of the last two frames,
resize, grayscale), ``TransformReward`` (reward sign) and ``FrameStackObservation``.
The only local addition is a reshape that moves the stack axis last, because RLlib's Atari
CNN expects channels-last images.

Importing this module registers the ALE ids with gymnasium, so a Ray worker that imports it
can build ALE envs without any further setup.
"""

from __future__ import annotations

import ale_py
import gymnasium as gym
import numpy as np
from gymnasium.spaces import Box
from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation, TransformObservation, TransformReward

gym.register_envs(ale_py)  # idempotent
ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Error)  # no version banner on every env built

# The Atari-57 benchmark (Mnih et al. 2015 plus the games added by later DeepMind papers;
# the suite of Ape-X, R2D2 and Agent57), as ALE v5 ids.
ATARI_57: tuple[str, ...] = tuple(
    f"ALE/{game}-v5"
    for game in (
        "Alien", "Amidar", "Assault", "Asterix", "Asteroids", "Atlantis", "BankHeist", "BattleZone",
        "BeamRider", "Berzerk", "Bowling", "Boxing", "Breakout", "Centipede", "ChopperCommand",
        "CrazyClimber", "Defender", "DemonAttack", "DoubleDunk", "Enduro", "FishingDerby", "Freeway",
        "Frostbite", "Gopher", "Gravitar", "Hero", "IceHockey", "Jamesbond", "Kangaroo", "Krull",
        "KungFuMaster", "MontezumaRevenge", "MsPacman", "NameThisGame", "Phoenix", "Pitfall", "Pong",
        "PrivateEye", "Qbert", "Riverraid", "RoadRunner", "Robotank", "Seaquest", "Skiing", "Solaris",
        "SpaceInvaders", "StarGunner", "Surround", "Tennis", "TimePilot", "Tutankham", "UpNDown",
        "Venture", "VideoPinball", "WizardOfWor", "YarsRevenge", "Zaxxon",
    )
)

# Every ALE v5 game the installed ale-py knows, for users who want games outside Atari-57.
ALL_ATARI_IDS: tuple[str, ...] = tuple(sorted(k for k in gym.registry if k.startswith("ALE/") and k.endswith("-v5")))

_ALE_ENTRY_POINT = "ale_py.env:AtariEnv"
_RENDER_MODES = (None, "rgb_array", "human")


def _require(ok: bool, name: str, allowed: str, value: object) -> None:
    if not ok:
        raise ValueError(f"{name} must be {allowed}, got {value!r}")


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _reward_sign(reward: float) -> float:
    # gymnasium's ClipReward clips to [min, max]; the DQN convention is the sign, so 0.4 -> 1.
    return float(np.sign(reward))


def _stack_axis_last(obs: np.ndarray) -> np.ndarray:
    # (k, H, W) -> (H, W, k) for grayscale; (k, H, W, 3) -> (H, W, 3k) for RGB, frame-major.
    moved = np.moveaxis(obs, 0, 2)
    return np.ascontiguousarray(moved.reshape(*moved.shape[:2], -1))


def _stack_axis_last_scaled(obs: np.ndarray) -> np.ndarray:
    # RLlib's built-in CNN encoders take float input; 1/255 keeps pixels in [0, 1].
    return _stack_axis_last(obs).astype(np.float32) / 255.0


def make_atari(
    env_id: str,
    *,
    preprocess: bool = True,
    noop_max: int = 30,
    frame_skip: int = 4,
    screen_size: int = 84,
    grayscale: bool = True,
    frame_stack: int = 4,
    sticky_actions: float = 0.25,
    episodic_life: bool = False,
    clip_rewards: bool = False,
    scale_obs: bool = True,
    full_action_space: bool = False,
    max_episode_frames: int = 108_000,
    render_mode: str | None = None,
) -> gym.Env:
    """Build an ALE env, by default with the standard preprocessing.

    With ``preprocess=True`` the chain is: ALE env with ``frameskip=1`` and
    ``repeat_action_probability=sticky_actions`` (v5 semantics: the *emulator* repeats the
    previous action with that probability on every frame) -> ``AtariPreprocessing`` (up to
    ``noop_max`` no-ops on reset, ``frame_skip`` frames per step with the pixel-wise max of
    the last two, resize to ``screen_size``, optional grayscale, uint8 kept unscaled) ->
    optional reward sign -> ``FrameStackObservation(frame_stack)`` -> stack axis moved last.

    Observation layout (channels last, as RLlib's CNN encoders expect): float32 in [0, 1] with
    ``scale_obs=True`` (the default, what RLlib's built-in models take); uint8 0-255 with
    ``scale_obs=False`` (4x smaller in replay buffers; the model must scale it, as ACER's does):

    * grayscale: ``(screen_size, screen_size, frame_stack)``, oldest frame at channel 0;
    * RGB: ``(screen_size, screen_size, 3 * frame_stack)``, frame-major, i.e. channel
      ``3 * i + c`` is colour ``c`` of frame ``i`` (oldest first).

    ``FrameStackObservation`` itself stacks on a new *leading* axis, ``(k, H, W)`` or
    ``(k, H, W, 3)``; the last wrapper reshapes that. After a reset the stack is filled
    with copies of the first frame.

    ``clip_rewards`` replaces each step's summed reward by its sign in {-1, 0, 1} (the DQN
    convention; not a clip to [-1, 1]). Keep it off for evaluation: scores are raw returns.

    ``episodic_life`` uses ``AtariPreprocessing(terminal_on_life_loss=True)``: ``terminated``
    becomes True when a life is lost, and the following ``reset()`` starts a new game (it
    does not continue from the next life as baselines' ``EpisodicLifeEnv`` does). Machado et
    al. (2018) advise against it; leave it off for reported scores.

    ``max_episode_frames`` caps an episode in emulator frames (108,000 frames = 30 minutes at
    60 Hz, the standard); the ALE reports ``truncated=True`` when it is reached. 0 = no cap.

    With ``preprocess=False`` the plain v5 env is returned (frameskip 4 inside the ALE,
    210x160x3 RGB frames); the preprocessing arguments are then not used, though still checked.

    Raises ValueError, naming the argument and its allowed range, for an invalid argument.
    """
    spec = gym.registry.get(env_id) if isinstance(env_id, str) else None
    _require(spec is not None and spec.entry_point == _ALE_ENTRY_POINT, "env_id",
             "a registered ALE id such as 'ALE/Pong-v5' (see ALL_ATARI_IDS)", env_id)
    _require(_is_int(noop_max) and noop_max >= 0, "noop_max", "an integer >= 0", noop_max)
    _require(_is_int(frame_skip) and frame_skip >= 1, "frame_skip", "an integer >= 1", frame_skip)
    _require(_is_int(screen_size) and screen_size >= 8, "screen_size", "an integer >= 8", screen_size)
    _require(_is_int(frame_stack) and frame_stack >= 1, "frame_stack", "an integer >= 1", frame_stack)
    _require(isinstance(sticky_actions, (int, float)) and 0.0 <= sticky_actions <= 1.0, "sticky_actions",
             "a probability in [0, 1]", sticky_actions)
    _require(_is_int(max_episode_frames) and max_episode_frames >= 0, "max_episode_frames",
             "an integer >= 0 (0 = no cap)", max_episode_frames)
    _require(render_mode in _RENDER_MODES, "render_mode", f"one of {_RENDER_MODES}", render_mode)

    ale_kwargs = dict(
        repeat_action_probability=float(sticky_actions),
        full_action_space=full_action_space,
        max_num_frames_per_episode=max_episode_frames,
        render_mode=render_mode,
    )
    if not preprocess:
        return gym.make(env_id, **ale_kwargs)

    env = gym.make(env_id, frameskip=1, **ale_kwargs)
    env = AtariPreprocessing(
        env,
        noop_max=noop_max,
        frame_skip=frame_skip,
        screen_size=screen_size,
        terminal_on_life_loss=episodic_life,
        grayscale_obs=grayscale,
        scale_obs=False,
    )
    if clip_rewards:
        env = TransformReward(env, _reward_sign)
    env = FrameStackObservation(env, frame_stack)
    channels = frame_stack * (1 if grayscale else 3)
    shape = (screen_size, screen_size, channels)
    if scale_obs:
        return TransformObservation(env, _stack_axis_last_scaled, Box(0.0, 1.0, shape, np.float32))
    return TransformObservation(env, _stack_axis_last, Box(0, 255, shape, np.uint8))
