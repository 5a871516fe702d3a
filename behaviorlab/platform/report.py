"""Learning curves and tables from stored Tune results; needs no Ray and no running cluster."""

from __future__ import annotations

import csv
import json
import logging
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from behaviorlab.platform.results import flatten
from behaviorlab.platform.spec import result_key

STEPS_KEY = "num_env_steps_sampled_lifetime"
TIME_KEY = "time_total_s"
log = logging.getLogger(__name__)


class ReportError(Exception):
    """A directory that holds no results we can read; the message says what was expected."""


@dataclass
class Trial:
    name: str
    params: dict
    rows: list[dict] = field(default_factory=list)

    def series(self, key: str) -> tuple[list[float], list[float]]:
        """(env steps, metric) pairs where the metric is a finite number."""
        xs, ys = [], []
        for row in self.rows:
            x, y = _number(row.get(STEPS_KEY)), _number(row.get(key))
            if x is not None and y is not None:
                xs.append(x)
                ys.append(y)
        return xs, ys

    def final(self, key: str) -> float | None:
        ys = self.series(key)[1]
        return ys[-1] if ys else None

    def first_reaching(self, key: str, threshold: float, smooth: int = 1) -> dict | None:
        """The first result row whose metric is ≥ threshold (None if never); with `smooth` > 1, whose
        trailing moving average over that many reports is (as the curves are smoothed), so one noisy
        report does not count as reaching it."""
        window = []
        for row in self.rows:
            value = _number(row.get(key))
            if value is None:
                continue
            window = [*window[1 - smooth:], value] if smooth > 1 else [value]
            if statistics.mean(window) >= threshold:
                return row
        return None

    def last(self, key: str) -> float | None:
        return _number(self.rows[-1].get(key)) if self.rows else None


@dataclass
class Experiment:
    path: Path
    trials: list[Trial]
    spec: dict

    @property
    def name(self) -> str:
        return self.path.name

    def groups(self) -> dict[str, list[Trial]]:
        """Trials that differ only in their seed, keyed by the parameters that vary."""
        varying = {key for key in _all_keys(self.trials)
                   if key != "seed" and len({json.dumps(t.params.get(key), sort_keys=True, default=str)
                                             for t in self.trials}) > 1}
        groups: dict[str, list[Trial]] = {}
        for trial in self.trials:
            label = " ".join(f"{key}={_short(trial.params.get(key))}" for key in sorted(varying)) or self.name
            groups.setdefault(label, []).append(trial)
        return groups


def _all_keys(trials: list[Trial]) -> set[str]:
    return set().union(*(t.params for t in trials)) if trials else set()


def _short(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def read_results(trial_dir: Path, config_keys: tuple[str, ...] = ()) -> list[dict]:
    """One flat row per iteration from Tune's result.json (progress.csv drops metrics that first
    appear after iteration 1, such as the return of an off-policy learner still warming up).
    An iteration re-run after a resume replaces the earlier row. `config_keys` (e.g. the
    hyperparameters PBT mutates) are kept as `config/<key>` with their value at that iteration."""
    # Undecodable bytes become unreadable lines, skipped like torn ones; only "\n" ends a line (as Tune writes).
    with (trial_dir / "result.json").open(errors="replace", newline="\n") as file:
        return parse_result_lines(file, config_keys)


def parse_result_lines(lines, config_keys: tuple[str, ...] = (), damaged: list[int] | None = None) -> list[dict]:
    """`read_results` on the lines of a result.json from any filesystem. Lines that are not a
    result (torn by a killed run, or garbage) are skipped; their numbers go to `damaged`."""
    rows = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            result = json.loads(line)
            config = flatten(result.pop("config", None) or {})
            iteration = int(result.get("training_iteration") or 0)
        except (json.JSONDecodeError, AttributeError, TypeError, ValueError, OverflowError):
            if damaged is not None:
                damaged.append(number)
            continue
        row = flatten(result)
        row.update({f"config/{key}": config[key] for key in config_keys if key in config})
        rows[iteration] = row
    return [rows[i] for i in sorted(rows)]


def _read_trial(result_file: Path, config_keys: tuple[str, ...]) -> list[dict]:
    """The rows of one trial's result.json; a warning naming the file for damaged lines, and
    ReportError when no line of a non-empty file is a result."""
    damaged: list[int] = []
    try:
        with result_file.open(errors="replace", newline="\n") as file:
            rows = parse_result_lines(file, config_keys, damaged)
    except OSError as error:
        raise ReportError(f"{result_file}: cannot read it ({error}); fix its permissions or move its trial "
                          "directory out of the experiment") from None
    if damaged and not rows:
        raise ReportError(f"{result_file}: damaged: none of its {len(damaged)} lines is a result row (0 rows read); "
                          "move its trial directory out of the experiment to report the others")
    if damaged:
        log.warning("%s: damaged: %d line(s) skipped (first: line %d); %d rows read, the report uses those",
                    result_file, len(damaged), damaged[0], len(rows))
    return rows


def _read_mapping(file: Path, parse, what: str):
    """A trial's params.json or the experiment's spec.yaml; {} (with a warning) if damaged."""
    if not file.exists():
        return {}
    try:
        data = parse(file.read_text(errors="replace"))
    except (ValueError, yaml.YAMLError) as error:
        data = error
    if not isinstance(data, dict):
        problem = " ".join(str(data).split())[:200] if isinstance(data, Exception) else f"not a mapping: {data!r:.50}"
        log.warning("%s: damaged (%s); the report goes on without its %s", file, problem, what)
        return {}
    return data


def mutated_keys(spec: dict) -> tuple[str, ...]:
    """Hyperparameters a PBT / PB2 scheduler changes during the run (from the stored spec)."""
    scheduler = (spec.get("tune") or {}).get("scheduler") or {}
    mutations = scheduler.get("hyperparam_mutations") or scheduler.get("hyperparam_bounds") or {}
    return tuple(sorted(mutations))


def load_experiment(path: str | Path) -> Experiment:
    if "://" in str(path):
        raise ReportError(f"{path}: reports read local directories; copy the experiment first "
                          "(e.g. `aws s3 sync <uri> ./<name>` or `gsutil -m rsync -r <uri> ./<name>`)")
    path = Path(path).expanduser()
    if not path.is_dir():
        raise ReportError(f"{path}: not a directory; give an experiment directory printed by `behaviorlab run`")
    spec_file = path / "behaviorlab" / "spec.yaml"
    spec = _read_mapping(spec_file, lambda text: yaml.safe_load(text) or {}, "spec (title, mode, PBT keys)")
    trials = []
    for result_file in sorted(path.glob("*/result.json")):
        params = flatten(_read_mapping(result_file.parent / "params.json", json.loads, "trial's parameters"))
        trials.append(Trial(result_file.parent.name, params, _read_trial(result_file, mutated_keys(spec))))
    if not trials:
        raise ReportError(f"{path}: no trial results (*/result.json); give an experiment directory printed by `behaviorlab run`")
    return Experiment(path, trials, spec)


def curve_matrix(trials: list[Trial], key: str, smooth: int = 1):
    """(env-step grid, values[trial, grid]) up to the longest trial (see `held_curves`)."""
    return held_curves([s for s in (t.series(key) for t in trials) if s[0]], smooth)


def held_curves(series, smooth: int = 1):
    """(x grid, values[curve, grid]) from (xs, ys) curves, on the union of their xs. A curve that
    ended earlier (e.g. at its stop threshold) counts at its last value to the end, so the mean does
    not stop, or drop, where the shortest curve stopped. `smooth` > 1: a trailing moving average
    over that many of each curve's own points first."""
    import numpy as np

    if not series:
        return [], np.empty((0, 0))
    if smooth > 1:
        series = [(xs, [statistics.mean(ys[max(0, i - smooth + 1):i + 1]) for i in range(len(ys))])
                  for xs, ys in series]
    grid = sorted({float(x) for xs, _ in series for x in xs})
    return grid, np.array([np.interp(grid, xs, ys) for xs, ys in series])  # np.interp holds the end values


BAND = "95 % bootstrap CI of the mean over seeds"
HELD = "mean over seeds (a trial that stopped early counts at its last value)"


def bootstrap_band(values, resamples: int = 2000, seed: int = 0):
    """Percentile bootstrap 95 % interval of the mean over rows (trials) at each column. NaN (a
    trial without a value there) is left out of each resample's mean."""
    import warnings

    import numpy as np

    rng = np.random.default_rng(seed)  # fixed: the same report twice draws the same band
    picks = rng.integers(0, len(values), size=(resamples, len(values)))
    with warnings.catch_warnings():  # a resample of only NaN rows: NaN, not a warning per column
        warnings.simplefilter("ignore", RuntimeWarning)
        means = np.nanmean(values[picks], axis=1)
        return np.nanpercentile(means, 2.5, axis=0), np.nanpercentile(means, 97.5, axis=0)


def plot_mean_band(ax, grid, values, label: str, **style) -> bool:
    """The mean over rows (seeds) of values[seed, grid] as a line labelled with n and, with two or
    more rows, its 95 % bootstrap band in the line's colour. NaN is left out of a point's mean.
    True if a band was drawn (say so with `caption_band`)."""
    import warnings

    import numpy as np

    values = np.asarray(values, dtype=float)
    with warnings.catch_warnings():  # a point where no seed has a value stays NaN (a gap)
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(values, axis=0)
    (line,) = ax.plot(grid, mean, label=f"{label} (n={len(values)})", **style)
    if len(values) < 2:
        return False
    ax.fill_between(grid, *bootstrap_band(values), color=line.get_color(), alpha=0.2)
    return True


def plot_mean_curves(ax, curves: list[tuple[str, list[Trial]]], key: str, smooth: int = 1, **style) -> bool:
    """`plot_mean_band` of each (label, trials) on `curve_matrix`'s grid (early stoppers held at
    their last value); True if any band was drawn."""
    banded = False
    for label, trials in curves:
        grid, values = curve_matrix(trials, key, smooth)
        if grid:
            banded = plot_mean_band(ax, grid, values, label, **style) or banded
    return banded


def caption_band(fig, line: str = HELD) -> None:
    """The figure's footnote saying what the line and the shade are; lay out with
    `fig.tight_layout(rect=(0, 0.03, 1, 1))` to keep it clear of the axes."""
    fig.text(0.01, 0.01, f"line: {line}; shade: {BAND}", fontsize=7, alpha=0.8)


def _plot(curves: list[tuple[str, list[Trial]]], key: str, ylabel: str, title: str, out: Path,
          smooth: int = 1) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    if plot_mean_curves(ax, curves, key, smooth, linewidth=2):
        caption_band(fig)
    ax.set_xlabel("env steps")
    ax.set_ylabel(ylabel.replace("_", " ") + (f" (moving average of {smooth} reports)" if smooth > 1 else ""))
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=8)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(out, dpi=120)
    plt.close(fig)


def check_metric(experiments: list[Experiment], key: str, metric: str) -> None:
    """A metric no trial reports would give an empty plot: name the close columns instead."""
    import difflib

    columns = {column for e in experiments for t in e.trials for row in t.rows for column in row}
    if any(t.series(key)[0] for e in experiments for t in e.trials):
        return
    close = difflib.get_close_matches(key, sorted(columns), n=5, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}?" if close else "give a friendly name (episode_return_mean) or a result key"
    raise ReportError(f"--metric {metric}: no trial reports '{key}' with a number; {hint}")


def _plot_per_trial(trials: list[Trial], keys: list[tuple[str, str]], title: str, out: Path) -> None:
    """One panel per (result key, label), one line per trial: sweeps' individual curves and the
    PBT hyperparameter schedule of every trial."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(keys), 1, figsize=(8, 3.2 * len(keys)), sharex=True, squeeze=False)
    for ax, (key, label) in zip(axes[:, 0], keys):
        for trial in trials:
            xs, ys = trial.series(key)
            if xs:
                ax.plot(xs, ys, label=trial.name, linewidth=1.2, drawstyle="steps-post" if key.startswith("config/") else "default")
        ax.set_ylabel(label.replace("_", " "))
        if key.startswith("config/") and all(y > 0 for t in trials for y in t.series(key)[1]):
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("env steps")
    axes[0, 0].set_title(title)
    if axes[0, 0].lines and len(trials) <= 12:
        axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def _trial_label(tag: str) -> str:
    """PBT's tag `3_lr=0.001,…` → the trial's directory prefix `trial_00003`."""
    index = tag.split("_", 1)[0]
    return f"trial_{int(index):05d}" if index.isdigit() else tag


def pbt_lineage(experiment: Experiment) -> list[dict]:
    """Every PBT exploit (from Tune's pbt_global.txt): which trial copied which, at which
    iterations, and how the mutated hyperparameters changed."""
    log = experiment.path / "pbt_global.txt"
    if not log.exists():
        return []
    keys = mutated_keys(experiment.spec)
    rows = []
    for line in log.read_text().splitlines():
        try:
            target, donor, target_iteration, donor_iteration, donor_config, new_config = json.loads(line)
        except (json.JSONDecodeError, ValueError):
            continue
        old, new = flatten(donor_config or {}), flatten(new_config or {})
        rows.append({"iteration": target_iteration, "trial": _trial_label(target),
                     "copied from": f"{_trial_label(donor)} @ iter {donor_iteration}",
                     **{key: f"{_short(old.get(key))} → {_short(new.get(key))}" for key in keys}})
    return rows


def best_group(experiment: Experiment, key: str, threshold: float | None = None) -> tuple[str, str] | None:
    """The best configuration and why. With a threshold: most trials reaching it, then fewest env
    steps; otherwise the best mean final metric (in the spec's tune.mode). Under PBT/PB2 the
    hyperparameters change during a run, so the best trial is named with its final values."""
    maximise = (experiment.spec.get("tune") or {}).get("mode", "max") == "max"
    mutated = mutated_keys(experiment.spec)
    if mutated:
        candidates = {t.name + " ended with " + " ".join(f"{k}={_short(t.rows[-1].get(f'config/{k}'))}" for k in mutated): [t]
                      for t in experiment.trials if t.rows}
    else:
        candidates = experiment.groups()
    scored = []
    for label, trials in candidates.items():
        if threshold is not None:
            steps = [_number(hit.get(STEPS_KEY)) or 0 for hit in (t.first_reaching(key, threshold) for t in trials) if hit]
            if steps:
                scored.append(((len(steps) / len(trials), -statistics.mean(steps)), label,
                               f"{len(steps)}/{len(trials)} trials reached {threshold:g} in "
                               f"{statistics.mean(steps):,.0f} env steps on average"))
            continue
        finals = [f for f in (t.final(key) for t in trials) if f is not None]
        if finals:
            value = statistics.mean(finals)
            scored.append(((value if maximise else -value,), label,
                           f"final {key.split('/')[-1]} {value:.4g}, mean of {len(finals)} trial(s)"))
    if not scored:
        return None
    _, label, why = max(scored)
    return label, why


def _atari_game(spec: dict) -> str | None:
    env = str(spec.get("env", ""))
    return env if env.startswith("ALE/") else None


def _env_label(spec: dict) -> str:
    env = spec.get("env", "")
    return ", ".join(map(str, env.get("grid_search", []))) if isinstance(env, dict) else str(env)


def _trials_by_game(experiment: Experiment) -> dict[str, list[Trial]]:
    """Atari trials by game: each trial's own env (a spec may sweep `env` over games), else the spec's."""
    games: dict[str, list[Trial]] = {}
    for trial in experiment.trials:
        game = _atari_game(trial.params) or _atari_game(experiment.spec)
        if game:
            games.setdefault(game, []).append(trial)
    return games


def _fmt(value: float | None, digits: str = ".4g") -> str:
    return "" if value is None else format(value, digits)


def _threshold_columns(trials: list[Trial], key: str, threshold: float, smooth: int = 1) -> dict:
    """Seeds that reached the threshold (see `Trial.first_reaching`), and their mean env steps and
    wall time to get there."""
    hits = [row for row in (t.first_reaching(key, threshold, smooth) for t in trials) if row is not None]
    steps = [_number(row.get(STEPS_KEY)) or 0 for row in hits]
    seconds = [_number(row.get(TIME_KEY)) or 0 for row in hits]
    return {f"reached {threshold:g}": f"{len(hits)}/{len(trials)}",
            "env_steps_to_threshold": _fmt(statistics.mean(steps), ".0f") if hits else "",
            "steps_std": _fmt(statistics.stdev(steps), ".0f") if len(hits) > 1 else "",
            "wall_s_to_threshold": _fmt(statistics.mean(seconds), ".0f") if hits else ""}


def _summary_rows(experiment: Experiment, key: str, threshold: float | None = None, smooth: int = 1) -> list[dict]:
    rows = []
    for label, trials in experiment.groups().items():
        game = _atari_game(trials[0].params) or _atari_game(experiment.spec)
        finals = [f for f in (t.final(key) for t in trials) if f is not None]
        row = {
            "experiment": experiment.name, "group": label, "trials": len(trials),
            "env_steps": _fmt(statistics.mean(t.last(STEPS_KEY) or 0 for t in trials), ".0f"),
            "wall_s": _fmt(statistics.mean(t.last(TIME_KEY) or 0 for t in trials), ".0f"),
            f"final {key}": _fmt(statistics.mean(finals) if finals else None),
            "std": _fmt(statistics.stdev(finals) if len(finals) > 1 else None),
        }
        if game and finals and key == result_key("episode_return_mean"):
            from behaviorlab.envs.atari_scores import hns

            row["HNS %"] = _fmt(100 * hns(game, statistics.mean(finals)), ".1f")
        if threshold is not None:
            row.update(_threshold_columns(trials, key, threshold, smooth))
        rows.append(row)
    return rows


def _write_tables(rows: list[dict], out_dir: Path, stem: str) -> tuple[Path, Path]:
    columns = list(dict.fromkeys(column for row in rows for column in row))
    csv_path, md_path = out_dir / f"{stem}.csv", out_dir / f"{stem}.md"
    with csv_path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(row.get(c, "")) for c in columns) + " |" for row in rows]
    md_path.write_text("\n".join(lines) + "\n")
    return csv_path, md_path


def report(path: str | Path | Experiment, metric: str = "episode_return_mean", threshold: float | None = None,
           out_dir: str | Path | None = None, smooth: int = 1) -> list[Path]:
    """Curves (PNG) and per-group plus per-trial tables (markdown, CSV) into `out_dir`
    (default `<dir>/report/`)."""
    experiment = path if isinstance(path, Experiment) else load_experiment(path)
    key = result_key(metric)
    check_metric([experiment], key, metric)
    out_dir = Path(out_dir).expanduser() if out_dir else experiment.path / "report"
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / "curves.png"
    title = f"{experiment.spec.get('algorithm', '')} on {_env_label(experiment.spec)}".strip(" on") or experiment.name
    _plot(list(experiment.groups().items()), key, metric, title, png, smooth)
    trial_rows = [{"trial": t.name, **{k: _short(v) for k, v in sorted(t.params.items()) if k == "seed"},
                   "iterations": len(t.rows), "env_steps": _fmt(t.last(STEPS_KEY), ".0f"),
                   "wall_s": _fmt(t.last(TIME_KEY), ".0f"), f"final {key}": _fmt(t.final(key))}
                  for t in experiment.trials]
    outputs = [png, *_write_tables(_summary_rows(experiment, key, threshold, smooth), out_dir, "summary"),
               *_write_tables(trial_rows, out_dir, "trials")]
    mutated = [(f"config/{k}", k) for k in mutated_keys(experiment.spec)]
    if len(experiment.trials) > 1 or mutated:
        outputs.append(out_dir / "trials.png")
        _plot_per_trial(experiment.trials, [(key, metric), *mutated], title, outputs[-1])
    lineage = pbt_lineage(experiment)
    if lineage:
        outputs += _write_tables(lineage, out_dir, "pbt_lineage")
    atari_rows = _atari_summary_rows([experiment], key) if len(_trials_by_game(experiment)) > 1 else []
    if atari_rows:  # an env grid over Atari games: one HNS table for them all
        outputs += _write_tables(atari_rows, out_dir, "atari")
    return outputs


def compare(paths: list[str | Path], out_dir: str | Path, metric: str = "episode_return_mean",
            threshold: float | None = None, smooth: int = 1) -> list[Path]:
    """Several experiments on one plot and one table (same metric, env steps on x)."""
    experiments = [load_experiment(p) for p in paths]
    key = result_key(metric)
    check_metric(experiments, key, metric)
    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    curves = [(f"{e.name}: {label}" if len(e.groups()) > 1 else e.name, trials)
              for e in experiments for label, trials in e.groups().items()]
    png = out / "compare.png"
    envs = {_env_label(e.spec) for e in experiments}
    _plot(curves, key, metric, f"comparison on {envs.pop()}" if len(envs) == 1 else "comparison", png, smooth)
    rows = [row for e in experiments for row in _summary_rows(e, key, threshold, smooth)]
    written = [png, *_write_tables(rows, out, "compare")]
    atari_rows = _atari_summary_rows(experiments, key)
    if atari_rows:
        written += _write_tables(atari_rows, out, "atari")
    return written


def _atari_summary_rows(experiments: list[Experiment], key: str) -> list[dict]:
    """Per algorithm over its Atari experiments (one per game): games, mean and median human-normalised
    score of the mean final return over seeds, the IQM over (seed, game) pairs with its stratified-
    bootstrap 95 % interval, and human world records broken (HWRB)."""
    if key != result_key("episode_return_mean"):
        return []
    from behaviorlab.envs.atari_scores import hns_summary, hwrb, iqm_hns

    runs: dict[str, dict[str, list[float]]] = {}  # algorithm → game → each seed's final return
    for experiment in experiments:
        for game, trials in _trials_by_game(experiment).items():
            finals = [f for f in (t.final(key) for t in trials) if f is not None]
            if not finals:
                continue
            by_game = runs.setdefault(str(experiment.spec.get("algorithm", experiment.name)), {})
            if game in by_game:
                raise ReportError(f"{experiment.path}: a second {experiment.spec.get('algorithm')} experiment on {game}; "
                                  "compare one experiment per (algorithm, game)")
            by_game[game] = finals
    rows = []
    for algorithm, by_game in runs.items():
        means = {game: statistics.mean(finals) for game, finals in by_game.items()}
        summary, iqm = hns_summary(means), iqm_hns(by_game)
        rows.append({"algorithm": algorithm, "games": summary["num_games"],
                     "mean HNS %": _fmt(100 * summary["mean_hns"], ".1f"),
                     "median HNS %": _fmt(100 * summary["median_hns"], ".1f"),
                     "IQM HNS % [95 % CI]": f"{100 * iqm['iqm_hns']:.1f} [{100 * iqm['low']:.1f}, {100 * iqm['high']:.1f}]",
                     "seeds": iqm["runs"], "HWRB": hwrb(means)})
    return rows
