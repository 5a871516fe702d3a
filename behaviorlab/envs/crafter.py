"""Crafter (Hafner 2021, package `crafter`): a 2-D Minecraft-like survival world, as a gymnasium env.

`Crafter-v1` plays one world per episode. Its reward is either Crafter's own (+1 for each
achievement unlocked the first time in the episode, ±0.1 per health point gained or lost) or, with
`task=<achievement>`, a sparse downstream task: 1.0 when that achievement is unlocked, which ends
the episode. Death ends every episode (terminated); the time limit truncates.

Observations: `observation="symbolic"` (default) gives one float32 vector that RLlib's default MLP
and the trajectory datasets take as is, so a policy pre-trained on a collected dataset acts on the
env unchanged:

    [0, 1197)       the 9×7 cells around the player that Crafter draws (the player at column 4,
                    row 3), one-hot over 19 cell ids (0 outside the world, 1–12 the materials of
                    `crafter.constants.materials`, 13–18 player, cow, zombie, skeleton, arrow,
                    plant), ordered [column][row][id] (`VIEW_SLICE`)
    [1197, 1201)    facing direction one-hot: left, right, up, down (`FACING_SLICE`)
    [1201, 1217)    inventory counts / 9, in `crafter.constants.items` order (`INVENTORY_SLICE`)
    [1217, 1219)    daylight in [0, 1], sleeping 0/1 (`STATUS_SLICE`)

`observation="pixels"` gives Crafter's 64×64 RGB frame (uint8) for image models.
Actions: Discrete(17), `crafter.constants.actions`.
"""

from __future__ import annotations

import functools

import gymnasium as gym
import numpy as np

INSTALL_HINT = "Crafter envs need the crafter package: pip install 'behaviorlab[ptgm]'"
CRAFTER_IDS = ("Crafter-v1",)
VIEW_COLUMNS, VIEW_ROWS = 9, 7  # Crafter's default 9×9 view minus its 2 inventory rows
PLAYER_CELL = (VIEW_COLUMNS // 2, VIEW_ROWS // 2)
NUM_CELL_IDS = 19
FACINGS = ((-1, 0), (1, 0), (0, -1), (0, 1))  # left, right, up, down: Crafter's move_* directions
VIEW_SIZE = VIEW_COLUMNS * VIEW_ROWS * NUM_CELL_IDS
VIEW_SLICE = slice(0, VIEW_SIZE)
FACING_SLICE = slice(VIEW_SIZE, VIEW_SIZE + len(FACINGS))
INVENTORY_SLICE = slice(FACING_SLICE.stop, FACING_SLICE.stop + 16)
STATUS_SLICE = slice(INVENTORY_SLICE.stop, INVENTORY_SLICE.stop + 2)
OBSERVATION_SIZE = STATUS_SLICE.stop
ITEM_MAX = 9  # every Crafter item count is capped at 9
# Bump when the layout above changes: datasets record it, and readers compare.
OBSERVATION_LAYOUT = "crafter-symbolic-v1"


def require_crafter():
    """Import and return the crafter package; ImportError with the install command."""
    try:
        import crafter
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    return crafter


@functools.cache
def _seeded_crafter_class():
    """crafter.Env whose seed fixes the episode. Upstream keeps each world chunk's objects in a
    set, whose order follows memory addresses, and picks the creature to despawn by index into
    it: the same seed gave different episodes in different processes. Sorting by type and
    position (one object per cell) makes that pick depend on the world alone."""
    crafter = require_crafter()

    class SeededCrafter(crafter.Env):
        def _balance_object(self, chunk, objs, *args):
            super()._balance_object(chunk, sorted(objs, key=lambda obj: (type(obj).__name__, *obj.pos)), *args)

    return SeededCrafter


def achievements() -> tuple[str, ...]:
    return tuple(require_crafter().constants.achievements)


def action_names() -> tuple[str, ...]:
    return tuple(require_crafter().constants.actions)


def material_ids() -> dict[str, int]:
    """Cell id of each material and creature, as the symbolic view encodes them."""
    crafter = require_crafter()
    names = [*crafter.constants.materials, "player", "cow", "zombie", "skeleton", "arrow", "plant"]
    return {name: index + 1 for index, name in enumerate(names)}


class CrafterEnv(gym.Env):
    """Crafter behind the gymnasium API (Crafter itself implements the old gym one)."""

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, task: str | None = None, observation: str = "symbolic", max_episode_steps: int = 10_000,
                 area: int = 64, render_mode: str | None = None):
        """
        Args:
            task: an achievement name (`achievements()`): reward 1 when it is unlocked, which ends
                the episode. None: Crafter's own reward over all achievements.
            observation: "symbolic" (the vector in the module docstring) or "pixels" (64×64 RGB).
            max_episode_steps: time limit (Crafter's default 10,000).
            area: side of the square world.
            render_mode: None or "rgb_array".
        """
        crafter = require_crafter()
        if task is not None and task not in crafter.constants.achievements:
            raise ValueError(f"Crafter task {task!r}: choose an achievement, one of {', '.join(crafter.constants.achievements)}")
        if observation not in ("symbolic", "pixels"):
            raise ValueError(f"Crafter observation {observation!r}: choose symbolic or pixels")
        self.task = task
        self.observation_kind = observation
        self.render_mode = render_mode
        self._env = _seeded_crafter_class()(area=(area, area), length=max_episode_steps, reward=True)
        self._item_names = list(crafter.constants.items)
        self.action_space = gym.spaces.Discrete(len(crafter.constants.actions))
        if observation == "symbolic":
            self.observation_space = gym.spaces.Box(0.0, 1.0, (OBSERVATION_SIZE,), np.float32)
        else:
            self.observation_space = gym.spaces.Box(0, 255, (64, 64, 3), np.uint8)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        if seed is not None:
            # Crafter draws episode e's world from hash((seed, e)) and has no reseeding API.
            self._env._seed = int(seed)
            self._env._episode = 0
        frame = self._env.reset()
        return self._observation(frame, None), {"achievements": {}}

    def step(self, action):
        frame, reward, done, info = self._env.step(int(action))
        dead = info["discount"] == 0.0
        unlocked = {name: count for name, count in info["achievements"].items() if count > 0}
        if self.task is None:
            terminated = dead
        else:
            reward = float(self.task in unlocked)
            terminated = dead or self.task in unlocked
        observation = self._observation(frame, info["semantic"])
        return observation, float(reward), terminated, done and not terminated, {"achievements": unlocked}

    def render(self):
        return self._env.render() if self.render_mode == "rgb_array" else None

    def _observation(self, frame: np.ndarray, semantic: np.ndarray | None) -> np.ndarray:
        """`semantic`: the world's semantic map when step() already has it (None after reset)."""
        if self.observation_kind == "pixels":
            return frame
        # Crafter exposes its symbolic state only through these attributes.
        player, world = self._env._player, self._env._world
        semantic = self._env._sem_view() if semantic is None else semantic
        return symbolic_observation(semantic, np.asarray(player.pos), tuple(player.facing),
                                    [player.inventory[name] for name in self._item_names], world.daylight,
                                    player.sleeping)


def symbolic_observation(semantic: np.ndarray, position: np.ndarray, facing: tuple[int, int],
                         inventory: list[int], daylight: float, sleeping: bool) -> np.ndarray:
    """The flat vector of the module docstring from Crafter's whole-world semantic map [area, area]
    (ids 0–18, indexed [x, y]) and the player's state."""
    view = np.zeros((VIEW_COLUMNS, VIEW_ROWS), np.int64)  # id 0 outside the world
    x0, y0 = position[0] - PLAYER_CELL[0], position[1] - PLAYER_CELL[1]
    xs = slice(max(x0, 0), min(x0 + VIEW_COLUMNS, semantic.shape[0]))
    ys = slice(max(y0, 0), min(y0 + VIEW_ROWS, semantic.shape[1]))
    view[xs.start - x0:xs.stop - x0, ys.start - y0:ys.stop - y0] = semantic[xs, ys]
    flat = np.zeros(OBSERVATION_SIZE, np.float32)
    flat[VIEW_SLICE] = np.eye(NUM_CELL_IDS, dtype=np.float32)[view].reshape(-1)
    flat[FACING_SLICE.start + FACINGS.index(tuple(int(v) for v in facing))] = 1.0
    flat[INVENTORY_SLICE] = np.asarray(inventory, np.float32) / ITEM_MAX
    flat[STATUS_SLICE] = (float(daylight), float(sleeping))
    return flat


def decode_view(obs: np.ndarray) -> np.ndarray:
    """The 9×7 cell ids [column, row] of a symbolic observation."""
    return obs[VIEW_SLICE].reshape(VIEW_COLUMNS, VIEW_ROWS, NUM_CELL_IDS).argmax(-1)


def decode_inventory(obs: np.ndarray) -> dict[str, int]:
    crafter = require_crafter()
    return {name: int(round(value * ITEM_MAX)) for name, value in zip(crafter.constants.items, obs[INVENTORY_SLICE])}


def make_crafter(env_id: str = "Crafter-v1", **kwargs) -> gym.Env:
    """Build a Crafter env (kwargs: `CrafterEnv`'s)."""
    require_crafter()
    if env_id not in CRAFTER_IDS:
        raise ValueError(f"make_crafter: unknown id {env_id!r}; choose one of {', '.join(CRAFTER_IDS)}")
    return CrafterEnv(**kwargs)


class CrafterExplorer:
    """Task-agnostic scripted behaviour for Crafter datasets, acting on the symbolic observation.

    Crafter has no bot like BabyAI's, and a uniformly random policy rarely gets past collecting
    wood. This one pursues random sub-goals the way a player wanders: it picks a kind of cell to
    interact with (tree, water, grass, cow, stone, coal, iron, table, plant; those its tools can
    use), walks to the nearest visible one and presses `do` on it, drinks, eats or sleeps when a
    need runs low, places a table / crafts tools when its inventory allows (with some probability,
    so not every episode follows the tech tree), and takes a uniformly random action with
    probability `epsilon`. With nothing of the chosen kind in view it walks in one direction.
    """

    def __init__(self, seed: int | None = None, epsilon: float = 0.1, patience: int = 40):
        crafter = require_crafter()
        self.rng = np.random.default_rng(seed)
        self.epsilon = epsilon
        self.patience = patience
        self.ids = material_ids()
        self.actions = {name: index for index, name in enumerate(crafter.constants.actions)}
        self.walkable = {self.ids[name] for name in crafter.constants.walkable}
        self.place = crafter.constants.place
        self.make = crafter.constants.make
        self.reset()

    def reset(self) -> None:
        self.target: str | None = None
        self.steps_on_target = 0
        self.wander = FACINGS[self.rng.integers(len(FACINGS))]

    def _targets(self, inventory: dict[str, int]) -> list[str]:
        targets = ["tree", "tree", "water", "grass", "cow", "plant"]
        if inventory["wood_pickaxe"]:
            targets += ["stone", "stone", "coal"]
        if inventory["stone_pickaxe"]:
            targets += ["iron"]
        if inventory["wood"]:
            targets += ["table"]
        return targets

    def _can(self, recipe: dict, inventory: dict[str, int]) -> bool:
        return all(inventory[item] >= count for item, count in recipe.items())

    def _craft(self, view: np.ndarray, inventory: dict[str, int]) -> str | None:
        """A placing or crafting action the inventory allows, or None."""
        column, row = PLAYER_CELL
        nearby = set(view[column - 1:column + 2, row - 1:row + 2].reshape(-1).tolist())
        options = []
        if self.ids["table"] in nearby:
            options += [f"make_{tool}" for tool in ("wood_pickaxe", "stone_pickaxe", "wood_sword", "stone_sword")
                        if not inventory[tool] and self._can(self.make[tool]["uses"], inventory)]
            if self.ids["furnace"] in nearby:
                options += [f"make_{tool}" for tool in ("iron_pickaxe", "iron_sword")
                            if self._can(self.make[tool]["uses"], inventory)]
        elif self._can(self.place["table"]["uses"], inventory):
            options.append("place_table")
        if self.ids["table"] in nearby and self.ids["furnace"] not in nearby and self._can(self.place["furnace"]["uses"], inventory):
            options.append("place_furnace")
        if inventory["sapling"] and self.rng.random() < 0.1:
            options.append("place_plant")
        return str(self.rng.choice(options)) if options and self.rng.random() < 0.5 else None

    def _toward(self, view: np.ndarray, dx: int, dy: int) -> str:
        """A move along the longer axis to a cell offset (dx, dy), the other axis if that is blocked."""
        column, row = PLAYER_CELL
        moves = [(np.sign(dx), 0), (0, np.sign(dy))]
        if abs(dy) > abs(dx):
            moves.reverse()
        for mx, my in moves:
            if (mx, my) != (0, 0) and (view[column + mx, row + my] in self.walkable
                                       or abs(dx) + abs(dy) == 1):  # next to the target: turn to face it
                return self._move_name((int(mx), int(my)))
        return self._move_name(FACINGS[self.rng.integers(len(FACINGS))])

    @staticmethod
    def _move_name(direction: tuple[int, int]) -> str:
        return ("move_left", "move_right", "move_up", "move_down")[FACINGS.index(direction)]

    def __call__(self, obs: np.ndarray) -> int:
        if self.rng.random() < self.epsilon:
            return int(self.rng.integers(len(self.actions)))
        view, inventory = decode_view(obs), decode_inventory(obs)
        if inventory["energy"] <= 2:
            return self.actions["sleep"]
        craft = self._craft(view, inventory)
        if craft:
            return self.actions[craft]
        if inventory["drink"] <= 3:
            self.target = "water"
        elif inventory["food"] <= 3:
            self.target = "cow"
        elif self.target is None or self.steps_on_target >= self.patience:
            self.target, self.steps_on_target = str(self.rng.choice(self._targets(inventory))), 0
        self.steps_on_target += 1
        cells = np.argwhere(view == self.ids[self.target])
        if not len(cells):
            column, row = PLAYER_CELL
            if view[column + self.wander[0], row + self.wander[1]] not in self.walkable:
                self.wander = FACINGS[self.rng.integers(len(FACINGS))]
            return self.actions[self._move_name(self.wander)]
        facing = FACINGS[int(obs[FACING_SLICE].argmax())]
        if view[PLAYER_CELL[0] + facing[0], PLAYER_CELL[1] + facing[1]] == self.ids[self.target]:
            return self.actions["do"]
        offsets = cells - np.asarray(PLAYER_CELL)
        dx, dy = offsets[np.abs(offsets).sum(1).argmin()]
        return self.actions[self._toward(view, int(dx), int(dy))]
