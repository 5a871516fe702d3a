"""Central inference's Ray-free parts: dynamic batching, per-caller answers, latency and lag."""

import numpy as np
import pytest

from behaviorlab.platform.inference_batching import (
    DynamicBatcher, Request, concat, latency_summary, policy_lag, split)


def test_nothing_queued_is_never_due():
    assert DynamicBatcher(max_batch=8, timeout_s=0.001).due_in(now=5.0) is None


def test_a_partial_batch_waits_for_the_timeout_of_its_oldest_request():
    batcher = DynamicBatcher(max_batch=16, timeout_s=0.002)
    batcher.add(Request(rows=8, arrival=1.0))
    batcher.add(Request(rows=4, arrival=1.0015))
    assert batcher.due_in(now=1.0005) == pytest.approx(0.0015)
    assert batcher.due_in(now=1.003) == 0.0


def test_a_full_batch_is_due_at_once_and_takes_whole_requests_in_order():
    batcher = DynamicBatcher(max_batch=16, timeout_s=1.0)
    for index, rows in enumerate([8, 4, 8]):
        batcher.add(Request(rows=rows, arrival=0.0, payload=index))
    assert batcher.due_in(now=0.0) == 0.0
    assert [r.payload for r in batcher.take()] == [0, 1]   # 8 + 4 fit, the next 8 would not
    assert [r.payload for r in batcher.take()] == [2]
    assert len(batcher) == 0


def test_a_request_larger_than_max_batch_is_served_alone():
    batcher = DynamicBatcher(max_batch=4, timeout_s=1.0)
    batcher.add(Request(rows=32, arrival=0.0, payload="big"))
    batcher.add(Request(rows=1, arrival=0.0, payload="small"))
    assert [r.payload for r in batcher.take()] == ["big"]
    assert [r.payload for r in batcher.take()] == ["small"]


def test_keys_are_never_mixed_and_no_request_overtakes_an_older_one_of_its_key():
    batcher = DynamicBatcher(max_batch=4, timeout_s=1.0)
    for payload, key, rows in [("a", True, 2), ("b", False, 1), ("c", True, 3), ("d", True, 1)]:
        batcher.add(Request(rows=rows, arrival=0.0, key=key, payload=payload))
    # 'c' does not fit after 'a'; 'd' would, but must not overtake 'c'.
    assert [r.payload for r in batcher.take()] == ["a"]
    assert [r.payload for r in batcher.take()] == ["b"]
    assert [r.payload for r in batcher.take()] == ["c", "d"]


def test_each_caller_gets_its_own_rows_back():
    first = {"obs": np.arange(6).reshape(3, 2), "extra": {"psi": np.array([10, 11, 12])}}
    second = {"obs": np.arange(6, 10).reshape(2, 2), "extra": {"psi": np.array([13, 14])}}
    batch = concat([first, second])
    assert batch["obs"].shape == (5, 2)
    outputs = {"logits": batch["obs"] * 2, "psi": batch["extra"]["psi"] + 1}
    back = split(outputs, [3, 2])
    np.testing.assert_array_equal(back[0]["logits"], first["obs"] * 2)
    np.testing.assert_array_equal(back[1]["logits"], second["obs"] * 2)
    np.testing.assert_array_equal(back[1]["psi"], [14, 15])


def test_split_refuses_outputs_of_another_length():
    with pytest.raises(ValueError, match="5 output rows for requests of 4 rows"):
        split({"a": np.zeros(5)}, [2, 2])


def test_latency_summary_in_milliseconds():
    summary = latency_summary([0.001] * 98 + [0.010, 0.020])
    assert summary["rtt_p50_ms"] == pytest.approx(1.0)
    # numpy's linear interpolation: 99th percentile of 100 values lies between the 99th and 100th.
    assert summary["rtt_p99_ms"] == pytest.approx(10.0 + 0.01 * 10.0)
    assert latency_summary([]) == {}


def test_policy_lag_counts_learner_updates_since_the_acting_weights():
    assert policy_lag(10, [10, 9, 7, 6]) == pytest.approx(2.0)
    with pytest.raises(ValueError):
        policy_lag(3, [])


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="max_batch"):
        DynamicBatcher(max_batch=0, timeout_s=0.001)
    with pytest.raises(ValueError, match="timeout_s"):
        DynamicBatcher(max_batch=1, timeout_s=-1)
