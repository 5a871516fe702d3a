"""Dynamic batching for central (SEED-style) inference, with no Ray import.

EnvRunners send one request per vectorised env step (a batch of observations, one row per env).
The inference server queues requests and runs one forward pass on several of them: as soon as the
queued rows reach `max_batch`, or when the oldest request has waited `timeout_s`. Requests are
served first in, first out and never split, so each caller gets exactly its own rows back.
Requests with different keys (explore / inference mode) are never batched together.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Hashable

import numpy as np


@dataclass
class Request:
    rows: int                  # observations in this request (the caller's number of envs)
    arrival: float             # clock time it was queued, in seconds
    key: Hashable = None       # requests are batched only with requests of the same key
    payload: Any = field(default=None, repr=False)  # what the server needs to answer it


class DynamicBatcher:
    """FIFO queue of requests that says when the next batch is due and what it holds."""

    def __init__(self, max_batch: int, timeout_s: float):
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1 (got {max_batch})")
        if timeout_s < 0:
            raise ValueError(f"timeout_s must be >= 0 (got {timeout_s})")
        self.max_batch, self.timeout_s = max_batch, timeout_s
        self._queue: deque[Request] = deque()

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, request: Request) -> None:
        self._queue.append(request)

    def _head_rows(self) -> int:
        """Rows queued behind the oldest request with its key, up to what one batch may take."""
        key, rows = self._queue[0].key, 0
        for request in self._queue:
            if request.key == key:
                rows += request.rows
                if rows >= self.max_batch:
                    break
        return rows

    def due_in(self, now: float) -> float | None:
        """Seconds until the next batch should run (0: now), None when nothing is queued."""
        if not self._queue:
            return None
        if self._head_rows() >= self.max_batch:
            return 0.0
        return max(0.0, self._queue[0].arrival + self.timeout_s - now)

    def take(self) -> list[Request]:
        """The next batch: the oldest request and the following ones with its key, in order, while
        they fit in `max_batch` rows (a single request larger than that forms a batch alone)."""
        key, rows, batch, kept, full = self._queue[0].key, 0, [], deque(), False
        for request in self._queue:
            if request.key == key and not full and (not batch or rows + request.rows <= self.max_batch):
                batch.append(request)
                rows += request.rows
            else:
                kept.append(request)
                full = full or request.key == key  # FIFO within a key: no later one overtakes it
        self._queue = kept
        return batch


def concat(batches: list[dict]) -> dict:
    """Row-wise concatenation of (possibly nested) dicts of arrays with the same keys."""
    first = batches[0]
    if isinstance(first, dict):
        return {key: concat([batch[key] for batch in batches]) for key in first}
    return np.concatenate([np.asarray(batch) for batch in batches], axis=0)


def split(outputs: dict, rows: list[int]) -> list[dict]:
    """Inverse of `concat`: the first rows[0] rows to the first caller, and so on."""
    if isinstance(outputs, dict):
        parts = {key: split(value, rows) for key, value in outputs.items()}
        return [{key: parts[key][i] for key in outputs} for i in range(len(rows))]
    bounds = np.cumsum(rows)[:-1]
    if sum(rows) != len(outputs):
        raise ValueError(f"{len(outputs)} output rows for requests of {sum(rows)} rows")
    return np.split(np.asarray(outputs), bounds)


def latency_summary(seconds: list[float]) -> dict[str, float]:
    """Round-trip p50 / p99 in milliseconds (empty input: no keys)."""
    if not seconds:
        return {}
    p50, p99 = np.percentile(np.asarray(seconds) * 1e3, [50, 99])
    return {"rtt_p50_ms": float(p50), "rtt_p99_ms": float(p99)}


def policy_lag(learner_version: int, acted_versions) -> float:
    """Mean number of learner updates between the parameters that acted on each step and the
    learner's parameters now (`learner_version`: learner updates so far)."""
    acted = np.asarray(acted_versions, dtype=np.float64)
    if acted.size == 0:
        raise ValueError("no acted steps")
    return float(learner_version - acted.mean())
