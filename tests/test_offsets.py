"""The worker's commit rule and in-order delivery guard (streams/offsets.py), without a broker."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from intervaltree import IntervalTree

from streams.offsets import PartitionOrder, SafeCommitConsumer, committable


def test_duplicates_do_not_slow_the_commit() -> None:
    # faust 0.15 commits 45 here (the first run breaks at the duplicate) and one more per commit
    acked = [44, 45, 45, 46, 46, 47, 48, 48, 49]
    assert committable(acked, 45) == (50, [])


def test_an_unacked_head_is_never_committed_over() -> None:
    # faust 0.15 commits 8 here: a single missing offset at the head is taken for a gap
    assert committable([5, 6, 7], 4) == (None, [5, 6, 7])
    assert committable([4, 5, 7], 4) == (6, [7])


@given(st.sets(st.integers(0, 60)), st.integers(0, 30) | st.none())
def test_commit_rule_never_passes_an_offset_that_was_not_acked(acked: set[int], committed: int | None) -> None:
    offset, keep = committable(sorted(acked) * 2, committed)
    if offset is None:
        return
    start = committed if committed is not None else min(acked)
    assert set(range(start, offset)) <= acked
    assert offset not in acked  # it went as far as it could
    assert all(o > offset for o in keep) and len(keep) == len(set(keep))


def _consumer(acked: list[int], committed: int | None) -> tuple[SafeCommitConsumer, str]:
    c = object.__new__(SafeCommitConsumer)  # the commit rule only needs these four fields
    tp = "t0"
    c._acked = defaultdict(list, {tp: list(acked)})
    c._acked_index = defaultdict(set, {tp: set(acked)})
    c._committed_offset = defaultdict(lambda: None, {tp: committed})
    c._gap = defaultdict(IntervalTree)
    return c, tp


def test_consumer_uses_the_rule_and_keeps_its_index_in_step() -> None:
    c, tp = _consumer([10, 11, 11, 12, 14], 10)
    assert c._new_offset(tp) == 13
    assert c._acked[tp] == [14] and c._acked_index[tp] == {14}
    c._committed_offset[tp] = 13
    assert c._new_offset(tp) is None  # 13 never acked: wait for it


def test_a_marked_gap_lets_the_commit_pass() -> None:
    c, tp = _consumer([14, 15], 10)
    assert c._new_offset(tp) is None
    c.mark_gap(tp, 10, 14)  # offsets 10..13 no longer exist
    assert c._new_offset(tp) == 16


def test_hold_back_leaves_the_offset_unacked() -> None:
    class Msg:
        acked = False

    c, _ = _consumer([], None)
    c._unacked_messages = {m := Msg()}  # type: ignore[assignment]
    c.hold_back(m)
    assert m.acked and not c._unacked_messages


def test_order_holds_back_jumps_seeks_once_per_interval_and_accepts_real_gaps() -> None:
    o = PartitionOrder(patience_s=0.2, reseek_s=0.05)
    tp: Any = ("t", 0)
    o.start(tp, 100)
    assert o.admit(tp, 100) and o.admit(tp, 101)
    assert not o.admit(tp, 150)
    assert o.take_seeks() == [(tp, 102)]
    assert o.take_seeks() == []  # already sought, not again right away
    time.sleep(0.06)
    assert o.take_seeks() == [(tp, 102)]  # still stuck: seek again
    assert o.admit(tp, 102) and o.admit(tp, 90)  # the refetch, and an older redelivery
    assert o.take_seeks() == []
    assert not o.admit(tp, 200)
    time.sleep(0.25)  # nothing but later offsets for patience_s: they do not exist any more
    assert o.admit(tp, 200)
    assert o.take_jumps() == [(tp, 91, 200)]
    assert o.admit(tp, 201)


def test_unknown_start_takes_the_first_delivery() -> None:
    o = PartitionOrder()
    assert o.admit("t1", 7) and o.expected["t1"] == 8


def test_docstring_examples() -> None:
    import doctest

    import streams.offsets

    result = doctest.testmod(streams.offsets)
    assert result.attempted >= 6 and result.failed == 0


def _started(coro: Any) -> Any:
    """Run a coroutine to its first wait, as the worker's drain loop does."""
    return coro.send(None)


def test_resumed_coroutine_finishes_as_in_a_task() -> None:
    from streams.offsets import _resume

    async def main() -> None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[int] = loop.create_future()
        steps: list[str] = []

        async def callback() -> str:
            steps.append("start")
            value = await fut
            await asyncio.sleep(0)  # a bare yield
            steps.append(f"got {value}")
            return "done"

        coro = callback()
        waiting_on = _started(coro)
        assert waiting_on is fut and steps == ["start"]
        task = asyncio.ensure_future(_resume(coro, waiting_on))
        await asyncio.sleep(0)
        assert not task.done()
        fut.set_result(7)
        assert await task == "done"
        assert steps == ["start", "got 7"]

    asyncio.run(main())


def test_resumed_coroutine_receives_errors_and_cancellation() -> None:
    from streams.offsets import _resume

    async def main() -> None:
        loop = asyncio.get_running_loop()
        failing: asyncio.Future[int] = loop.create_future()
        never: asyncio.Future[int] = loop.create_future()
        seen: list[str] = []

        async def catches() -> str:
            try:
                await failing
            except KeyError:
                seen.append("caught")
            return "recovered"

        async def cleans_up() -> None:
            try:
                await never
            finally:
                seen.append("cleaned up")

        coro = catches()
        task = asyncio.ensure_future(_resume(coro, _started(coro)))
        await asyncio.sleep(0)
        failing.set_exception(KeyError("x"))
        assert await task == "recovered"

        coro2 = cleans_up()
        task2 = asyncio.ensure_future(_resume(coro2, _started(coro2)))
        await asyncio.sleep(0)
        task2.cancel()  # what wait_first does to the loser
        with pytest.raises(asyncio.CancelledError):
            await task2
        assert seen == ["caught", "cleaned up"]
        assert never.cancelled()

    asyncio.run(main())
