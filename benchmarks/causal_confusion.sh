#!/usr/bin/env bash
# Causal confusion on MountainCar (issue 26): the study of benchmarks/causal_confusion/mountaincar.yaml
# (300 / 1,000 / 3,000 demonstration steps × 10 seeds, 50 evaluation episodes per point; ≈ 22 min on
# 2 cores shared with other work at a load of 12–18) and its noisy-demonstrator variant
# (mountaincar_noisy_expert.yaml: 2 sizes × 5 seeds). Plain torch training; episodes on local RLlib
# EnvRunners (no Ray cluster; slower per episode than the in-process loop that made the timing above).
# Output: docs/benchmarks/causal_confusion/{NAME}/{summary.md,runs.json} (tables in docs/benchmarks.md),
# and a trial directory per size and seed there (`behaviorlab report docs/benchmarks/causal_confusion/NAME`).
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
PY=.venv/bin/python; [[ -x $PY ]] || PY=python
for name in mountaincar mountaincar_noisy_expert; do
  out=docs/benchmarks/causal_confusion/$name
  nice -n 10 "$PY" -u -m behaviorlab.algorithms.causal_confusion benchmarks/causal_confusion/$name.yaml --out "$out"
  rm -f "$out/spec.json"  # the spec is the committed YAML
done
