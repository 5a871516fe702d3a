"""How often ACER's trust region binds: per trial of each experiment, the share of policy samples whose
projection was active (k·g > δ; `trust_region_active`, each report a mean over the last 100 updates),
averaged over the reports of the whole run and over its first and last quarter. Markdown table on stdout.

Usage: python benchmarks/trust_region_binding.py EXPERIMENT_DIR [...]"""
import argparse
import statistics

from behaviorlab.platform.report import load_experiment

KEY = "learners/default_policy/trust_region_active"


def binding_rows(experiment_dir: str) -> list[str]:
    experiment = load_experiment(experiment_dir)
    rows = []
    for label, trials in experiment.groups().items():
        for trial in trials:
            active = trial.series(KEY)[1]
            if not active:
                raise SystemExit(f"{trial.name} in {experiment_dir} has no {KEY}: was the trust region on?")
            quarter = max(1, len(active) // 4)
            rows.append(f"| {label} | {trial.params.get('seed')} | {len(active)} | {statistics.mean(active):.3f} "
                        f"| {statistics.mean(active[:quarter]):.3f} | {statistics.mean(active[-quarter:]):.3f} "
                        f"| {max(active):.3f} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiments", nargs="+", help="experiment directories of ACER runs")
    args = parser.parse_args()
    print("| run | seed | reports | share binding, whole run | first quarter | last quarter | max |")
    print("|---|---|---|---|---|---|---|")
    for path in args.experiments:
        print("\n".join(binding_rows(path)))


if __name__ == "__main__":
    main()
