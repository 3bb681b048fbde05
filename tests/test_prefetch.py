"""The runner's decode prefetch: items in order, errors re-raised, and no thread left behind when a
pair stops early (a model error mid-clip) - even when decoding had already finished."""

from __future__ import annotations

import threading
import time

import pytest

from qa_harness.runner import prefetch


def _producers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name != "MainThread" and t.daemon and "produce" in t.name]


def test_items_in_order_and_errors_reach_the_consumer():
    assert list(prefetch(iter(range(5)))) == [0, 1, 2, 3, 4]

    def failing():
        yield 1
        raise ValueError("corrupt chunk")

    with pytest.raises(ValueError, match="corrupt chunk"):
        list(prefetch(failing()))


@pytest.mark.parametrize("items", [3, 50])  # 3: decoding ends while the queue is full; 50: mid-stream
def test_consumer_that_stops_early_leaves_no_thread(items):
    before = set(_producers())
    chunks = prefetch(iter(range(items)), depth=2)
    assert next(chunks) == 0
    time.sleep(0.3)  # let the producer fill the queue (and, for 3 items, try to hand over its end marker)
    chunks.close()
    deadline = time.time() + 5
    while set(_producers()) - before and time.time() < deadline:
        time.sleep(0.05)
    assert not set(_producers()) - before
