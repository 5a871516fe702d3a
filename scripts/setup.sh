#!/usr/bin/env bash
# Create ./.venv with behaviorlab and its test tools. Needs only python3 (3.10+).
# torch goes in first, pinned to a CPU-capable release, so that resolving Ray's dependencies
# does not pull a multi-GB CUDA build (on GPU machines install the CUDA torch you want first).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/python -m pip install --quiet "torch==2.13.0"
.venv/bin/python -m pip install --quiet -e ".[dev]"
echo "behaviorlab installed in .venv (activate with: . .venv/bin/activate)"
