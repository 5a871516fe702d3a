"""Every test process, its CLI subprocesses and the Ray workers they start use one torch thread:
on a 2-core machine shared with Ray's actors, two threads made small updates many times slower."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402  (after the variable, which torch reads when it starts)

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
