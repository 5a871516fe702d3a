"""The STEVE paper's toy value-estimation study (Figure 1): train steps until the value error
(MSE of the ensemble-mean table against V(s) = s) falls below 1, for TD, MVE and STEVE with an
oracle and a noisy model (`behaviorlab.algorithms.steve.toy`).

Usage: python benchmarks/steve_toy.py [--seeds 4] [--steps 12000]
Prints a markdown table (mean and range over seeds; "never" = not below 1 within --steps, then
the error at 500 steps and at the end).
"""

from __future__ import annotations

import argparse
import time

from behaviorlab.algorithms.steve.toy import run

METHODS = {
    "TD, single table": dict(reduction="td", q_members=1),
    "TD, 8-member ensemble": dict(reduction="td"),
    "MVE (H=5), oracle model": dict(reduction="mve"),
    "STEVE (H=5), oracle model": dict(reduction="steve"),
    "MVE (H=5), noisy model (8 members)": dict(reduction="mve", noisy=True, model_members=8),
    "STEVE (H=5), noisy model (8 members)": dict(reduction="steve", noisy=True, model_members=8),
}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=12_000)
    args = parser.parse_args(argv)
    lines = ["| method | train steps to error < 1 (mean, range) | error at 500 steps | error at the end | s |",
             "|---|---|---|---|---|"]
    for name, kwargs in METHODS.items():
        start = time.time()
        result = run(**kwargs, seeds=args.seeds, steps=args.steps)
        first, errors = result["steps_to_threshold"], result["errors"].mean(1)
        reached = first[first > 0]
        cell = (f"{reached.mean():,.0f} ({reached.min():,.0f}–{reached.max():,.0f})" if len(reached) else "never")
        if 0 < len(reached) < len(first):
            cell += f", {len(first) - len(reached)} of {len(first)} seeds never"
        lines.append(f"| {name} | {cell} | {errors[499]:,.1f} | {errors[-1]:,.2f} | {time.time() - start:.0f} |")
        print(lines[-1], flush=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
