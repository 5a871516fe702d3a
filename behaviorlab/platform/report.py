"""Learning curves and tables from stored Tune results; needs no Ray and no running cluster."""

from __future__ import annotations

import csv
import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from behaviorlab.platform.results import flatten
from behaviorlab.platform.spec import result_key

STEPS_KEY = "num_env_steps_sampled_lifetime"
TIME_KEY = "time_total_s"


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

    def first_reaching(self, key: str, threshold: float) -> dict | None:
        """The first result row whose metric is ≥ threshold (None if never)."""
        for row in self.rows:
            value = _number(row.get(key))
            if value is not None and value >= threshold:
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


def read_results(trial_dir: Path) -> list[dict]:
    """One flat row per iteration from Tune's result.json (progress.csv drops metrics that first
    appear after iteration 1, such as the return of an off-policy learner still warming up).
    An iteration re-run after a resume replaces the earlier row."""
    rows = {}
    with (trial_dir / "result.json").open() as file:
        for line in file:
            try:
                result = json.loads(line)
            except json.JSONDecodeError:  # a line torn by a killed run
                continue
            result.pop("config", None)
            rows[int(result.get("training_iteration") or 0)] = flatten(result)
    return [rows[i] for i in sorted(rows)]


def load_experiment(path: str | Path) -> Experiment:
    path = Path(path).expanduser()
    if not path.is_dir():
        raise ReportError(f"{path}: not a directory; give an experiment directory printed by `behaviorlab run`")
    trials = []
    for result_file in sorted(path.glob("*/result.json")):
        params_file = result_file.parent / "params.json"
        params = flatten(json.loads(params_file.read_text())) if params_file.exists() else {}
        trials.append(Trial(result_file.parent.name, params, read_results(result_file.parent)))
    if not trials:
        raise ReportError(f"{path}: no trial results (*/result.json); give an experiment directory printed by `behaviorlab run`")
    spec_file = path / "behaviorlab" / "spec.yaml"
    spec = yaml.safe_load(spec_file.read_text()) if spec_file.exists() else {}
    return Experiment(path, trials, spec or {})


def _mean_curve(trials: list[Trial], key: str) -> tuple[list[float], list[float], list[float]]:
    """Mean and spread over seeds on the env-step grid of the shortest trial (no extrapolation)."""
    series = [t.series(key) for t in trials]
    series = [s for s in series if s[0]]
    if not series:
        return [], [], []
    import numpy as np

    end = min(xs[-1] for xs, _ in series)
    grid = sorted({x for xs, _ in series for x in xs if x <= end})
    values = np.array([np.interp(grid, xs, ys) for xs, ys in series])
    return grid, list(values.mean(axis=0)), list(values.std(axis=0))


def _plot(curves: list[tuple[str, list[Trial]]], key: str, ylabel: str, title: str, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for label, trials in curves:
        grid, mean, std = _mean_curve(trials, key)
        if not grid:
            continue
        (line,) = ax.plot(grid, mean, label=f"{label} (n={len(trials)})", linewidth=2)
        if len(trials) > 1:
            ax.fill_between(grid, [m - s for m, s in zip(mean, std)], [m + s for m, s in zip(mean, std)],
                            color=line.get_color(), alpha=0.2)
    ax.set_xlabel("env steps")
    ax.set_ylabel(ylabel.replace("_", " "))
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def _atari_game(spec: dict) -> str | None:
    env = str(spec.get("env", ""))
    return env if env.startswith("ALE/") else None


def _fmt(value: float | None, digits: str = ".4g") -> str:
    return "" if value is None else format(value, digits)


def _threshold_columns(trials: list[Trial], key: str, threshold: float) -> dict:
    """Seeds that reached the threshold, and their mean env steps and wall time to get there."""
    hits = [row for row in (t.first_reaching(key, threshold) for t in trials) if row is not None]
    steps = [_number(row.get(STEPS_KEY)) or 0 for row in hits]
    seconds = [_number(row.get(TIME_KEY)) or 0 for row in hits]
    return {f"reached {threshold:g}": f"{len(hits)}/{len(trials)}",
            "env_steps_to_threshold": _fmt(statistics.mean(steps), ".0f") if hits else "",
            "steps_std": _fmt(statistics.stdev(steps), ".0f") if len(hits) > 1 else "",
            "wall_s_to_threshold": _fmt(statistics.mean(seconds), ".0f") if hits else ""}


def _summary_rows(experiment: Experiment, key: str, threshold: float | None = None) -> list[dict]:
    game = _atari_game(experiment.spec)
    rows = []
    for label, trials in experiment.groups().items():
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
            row.update(_threshold_columns(trials, key, threshold))
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


def report(path: str | Path, metric: str = "episode_return_mean", threshold: float | None = None) -> list[Path]:
    """Curves (PNG) and per-group plus per-trial tables (markdown, CSV) into `<dir>/report/`."""
    experiment = load_experiment(path)
    key = result_key(metric)
    out_dir = experiment.path / "report"
    out_dir.mkdir(exist_ok=True)
    png = out_dir / "curves.png"
    title = f"{experiment.spec.get('algorithm', '')} on {experiment.spec.get('env', '')}".strip(" on") or experiment.name
    _plot(list(experiment.groups().items()), key, metric, title, png)
    trial_rows = [{"trial": t.name, **{k: _short(v) for k, v in sorted(t.params.items()) if k == "seed"},
                   "iterations": len(t.rows), "env_steps": _fmt(t.last(STEPS_KEY), ".0f"),
                   "wall_s": _fmt(t.last(TIME_KEY), ".0f"), f"final {key}": _fmt(t.final(key))}
                  for t in experiment.trials]
    return [png, *_write_tables(_summary_rows(experiment, key, threshold), out_dir, "summary"),
            *_write_tables(trial_rows, out_dir, "trials")]


def compare(paths: list[str | Path], out_dir: str | Path, metric: str = "episode_return_mean",
            threshold: float | None = None) -> list[Path]:
    """Several experiments on one plot and one table (same metric, env steps on x)."""
    experiments = [load_experiment(p) for p in paths]
    key = result_key(metric)
    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    curves = [(f"{e.name}: {label}" if len(e.groups()) > 1 else e.name, trials)
              for e in experiments for label, trials in e.groups().items()]
    png = out / "compare.png"
    envs = {e.spec.get("env") for e in experiments}
    _plot(curves, key, metric, f"comparison on {envs.pop()}" if len(envs) == 1 else "comparison", png)
    rows = [row for e in experiments for row in _summary_rows(e, key, threshold)]
    return [png, *_write_tables(rows, out, "compare")]
