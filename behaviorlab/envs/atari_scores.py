"""Reference scores for Atari-57 and the aggregate metrics computed from them.

Pure data and arithmetic, no gymnasium or ALE import, so reports can be made anywhere.

* ``RANDOM_SCORES`` / ``HUMAN_SCORES``: the uniform-random agent and the professional human
  tester of the DQN line of papers (Mnih et al. 2015, van Hasselt et al. 2016, Wang et al.
  2016), no-op-start protocol, the numbers behind the human-normalised score (HNS) of
  Ape-X, R2D2 and Agent57; as published in DeepMind's DQN Zoo (``atari_data.py``).
  VideoPinball: some tables (Dopamine, rliable, MuZero) use a random score of 0.0 instead
  of 16256.9; we keep the DQN Zoo value, so HNS there is on a very narrow random-human range.
* ``HUMAN_WORLD_RECORDS``: the human world records of Toromanoff et al. 2019 (SABER, "Is
  deep RL really superhuman on Atari?"), used for HWRB ("human world records broken") by
  the GDI and LBC papers. Defender and Surround are taken from SABER without a second source.

Keys are the ALE game names, spelled as in the ALE ids ("Pong", "MontezumaRevenge").
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Mapping

#            game                random     human      human world record
_TABLE: dict[str, tuple[float, float, float]] = {
    "Alien": (227.8, 7127.7, 251916.0),
    "Amidar": (5.8, 1719.5, 104159.0),
    "Assault": (222.4, 742.0, 8647.0),
    "Asterix": (210.0, 8503.3, 1000000.0),
    "Asteroids": (719.1, 47388.7, 10506650.0),
    "Atlantis": (12850.0, 29028.1, 10604840.0),
    "BankHeist": (14.2, 753.1, 82058.0),
    "BattleZone": (2360.0, 37187.5, 801000.0),
    "BeamRider": (363.9, 16926.5, 999999.0),
    "Berzerk": (123.7, 2630.4, 1057940.0),
    "Bowling": (23.1, 160.7, 300.0),
    "Boxing": (0.1, 12.1, 100.0),
    "Breakout": (1.7, 30.5, 864.0),
    "Centipede": (2090.9, 12017.0, 1301709.0),
    "ChopperCommand": (811.0, 7387.8, 999999.0),
    "CrazyClimber": (10780.5, 35829.4, 219900.0),
    "Defender": (2874.5, 18688.9, 6010500.0),
    "DemonAttack": (152.1, 1971.0, 1556345.0),
    "DoubleDunk": (-18.6, -16.4, 22.0),
    "Enduro": (0.0, 860.5, 9500.0),
    "FishingDerby": (-91.7, -38.7, 71.0),
    "Freeway": (0.0, 29.6, 38.0),
    "Frostbite": (65.2, 4334.7, 454830.0),
    "Gopher": (257.6, 2412.5, 355040.0),
    "Gravitar": (173.0, 3351.4, 162850.0),
    "Hero": (1027.0, 30826.4, 1000000.0),
    "IceHockey": (-11.2, 0.9, 36.0),
    "Jamesbond": (29.0, 302.8, 45550.0),
    "Kangaroo": (52.0, 3035.0, 1424600.0),
    "Krull": (1598.0, 2665.5, 104100.0),
    "KungFuMaster": (258.5, 22736.3, 1000000.0),
    "MontezumaRevenge": (0.0, 4753.3, 1219200.0),
    "MsPacman": (307.3, 6951.6, 290090.0),
    "NameThisGame": (2292.3, 8049.0, 25220.0),
    "Phoenix": (761.4, 7242.6, 4014440.0),
    "Pitfall": (-229.4, 6463.7, 114000.0),
    "Pong": (-20.7, 14.6, 21.0),
    "PrivateEye": (24.9, 69571.3, 101800.0),
    "Qbert": (163.9, 13455.0, 2400000.0),
    "Riverraid": (1338.5, 17118.0, 1000000.0),
    "RoadRunner": (11.5, 7845.0, 2038100.0),
    "Robotank": (2.2, 11.9, 76.0),
    "Seaquest": (68.4, 42054.7, 999999.0),
    "Skiing": (-17098.1, -4336.9, -3272.0),
    "Solaris": (1236.3, 12326.7, 111420.0),
    "SpaceInvaders": (148.0, 1668.7, 621535.0),
    "StarGunner": (664.0, 10250.0, 77400.0),
    "Surround": (-10.0, 6.5, 10.0),
    "Tennis": (-23.8, -8.3, 21.0),
    "TimePilot": (3568.0, 5229.2, 65300.0),
    "Tutankham": (11.4, 167.6, 5384.0),
    "UpNDown": (533.4, 11693.2, 82840.0),
    "Venture": (0.0, 1187.5, 38900.0),
    "VideoPinball": (16256.9, 17667.9, 89218328.0),
    "WizardOfWor": (563.5, 4756.5, 395300.0),
    "YarsRevenge": (3092.9, 54576.9, 15000105.0),
    "Zaxxon": (32.5, 9173.3, 83700.0),
}

RANDOM_SCORES: dict[str, float] = {game: row[0] for game, row in _TABLE.items()}
HUMAN_SCORES: dict[str, float] = {game: row[1] for game, row in _TABLE.items()}
HUMAN_WORLD_RECORDS: dict[str, float] = {game: row[2] for game, row in _TABLE.items()}

_ID = re.compile(r"^(?:ALE/)?(?P<game>[A-Za-z0-9]+?)(?:NoFrameskip|Deterministic)?(?:-v\d+)?$")


def game_name(env_id: str) -> str:
    """'ALE/Pong-v5' -> 'Pong'; also 'PongNoFrameskip-v4' -> 'Pong', and 'Pong' -> 'Pong'."""
    match = _ID.match(env_id)
    if match is None:
        raise ValueError(f"env_id must look like 'ALE/Pong-v5' or 'Pong', got {env_id!r}")
    return match["game"]


def _game(game_or_env_id: str) -> str:
    game = game_name(game_or_env_id)
    if game not in _TABLE:
        raise KeyError(f"no reference scores for {game_or_env_id!r}: only the Atari-57 games have them "
                       f"(names as in the ALE ids, e.g. 'Pong', 'MontezumaRevenge')")
    return game


def _by_game(scores: Mapping, value=float) -> dict:
    by_game = {}
    for key, score in scores.items():
        game = _game(key)
        if game in by_game:
            raise ValueError(f"two entries name the game {game!r}; give each game once")
        by_game[game] = value(score)
    return by_game


def hns(game_or_env_id: str, score: float) -> float:
    """Human-normalised score (score - random) / (human - random), as a fraction (x100 for %).

    0 is random play, 1 the human tester. Raises KeyError for a game outside Atari-57.
    """
    game = _game(game_or_env_id)
    random, human = RANDOM_SCORES[game], HUMAN_SCORES[game]
    return (float(score) - random) / (human - random)


def hns_summary(scores: Mapping[str, float]) -> dict[str, float]:
    """Mean and median HNS (fractions) over the given games: {'mean_hns', 'median_hns', 'num_games'}.

    Keys may be game names or env ids. The usual Atari-57 numbers need all 57 games; fewer
    give the aggregate over those games only. Raises ValueError for an empty mapping.
    """
    by_game = _by_game(scores)
    if not by_game:
        raise ValueError("scores is empty; give at least one game's score")
    values = [hns(game, score) for game, score in by_game.items()]
    return {"mean_hns": statistics.fmean(values), "median_hns": statistics.median(values), "num_games": len(values)}


def hwrb(scores: Mapping[str, float]) -> int:
    """Number of games whose score is at least the human world record (keys: names or env ids)."""
    return sum(score >= HUMAN_WORLD_RECORDS[game] for game, score in _by_game(scores).items())


def interquartile_mean(values, axis: int | None = None):
    """Mean of the middle half of the values (scipy's trim_mean(values, 0.25)): over all of them,
    or along `axis`."""
    import numpy as np

    ordered = np.sort(np.asarray(values, dtype=float), axis=axis)
    size = ordered.shape[-1]
    cut = int(0.25 * size)
    return ordered[..., cut:size - cut].mean(-1)


def iqm_hns(run_scores: Mapping[str, list[float]], *, reps: int = 2000, seed: int = 0) -> dict[str, float]:
    """Interquartile mean of the HNS over all (run, game) pairs and its 95 % stratified-bootstrap
    percentile interval (Agarwal et al. 2021: runs are resampled within each game).

    `run_scores`: per game (name or env id), the final score of each run (seed); every game uses
    its first k runs, k the fewest any game has. Returns {'iqm_hns', 'low', 'high', 'runs'}
    (fractions; runs = k). By hand: rliable 1.2's dependency `arch` fails to import next to the
    pandas that Ray 2.60 installs.
    """
    import numpy as np

    by_game = _by_game(run_scores, value=lambda scores: [float(score) for score in scores])
    runs = min((len(scores) for scores in by_game.values()), default=0)
    if runs == 0:
        raise ValueError("give at least one game with at least one run's score")
    matrix = np.array([[hns(game, score) for score in scores[:runs]] for game, scores in by_game.items()]).T
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, runs, size=(reps, runs, matrix.shape[1]))  # per game, its own resampled runs
    resampled = np.take_along_axis(matrix[None], rows, axis=1).reshape(reps, -1)
    low, high = np.percentile(interquartile_mean(resampled, axis=1), [2.5, 97.5])
    return {"iqm_hns": float(interquartile_mean(matrix)), "low": float(low), "high": float(high), "runs": runs}
