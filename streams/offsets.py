"""Offset bookkeeping for the Faust worker: which offset may be committed, and which deliveries
are in partition order.

Two defects of faust-streaming 0.15's consumer made the rebalance and restart tests flaky:

- ``Consumer._new_offset`` commits the first run of consecutive acked offsets. A message that is
  fetched again around a seek (recovery seeks to the committed offsets while the fetcher is
  already running) can be acked a second time while a commit is in flight, so ``_acked`` holds
  duplicates; runs then break at every duplicate and the commit creeps forward by one offset per
  commit interval (the worker has finished, its lag looks frozen for minutes). Its head rule
  (``min(acked) - committed > 1``) also commits over a single un-acked offset at the head, which
  loses that event on the next restart (upstream faust-streaming#606 / PR #707).
- Around a restart or rebalance the fetcher can hand over records of a partition that Faust
  has paused; Faust drops them, and when the next record arrives it records the skipped
  offsets as a "gap" that counts as acked, so the commit passes events never processed
  (measured: links 6481-6497 skipped after a restart, then committed over). The account stage
  also skips an event whose offset is at or below the last one applied to its account (that is
  how redeliveries are kept from counting twice), so any out-of-order delivery loses events.

:func:`committable` is the commit rule (only ever past a contiguous run that starts at the
committed offset), :class:`SafeCommitConsumer` puts it into Faust without the automatic gaps,
and :class:`PartitionOrder` lets the agents hold back a message that arrives ahead of its
partition's next offset and seek back to fetch what it jumped over.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Generator, Iterable
from typing import Any

import faust
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka


def committable(acked: Iterable[int], committed: int | None) -> tuple[int | None, list[int]]:
    """The offset to commit for one partition, and the acked offsets to keep for later.

    ``committed`` is the next offset to read (Kafka's convention), ``None`` before the first
    commit. The commit only moves past a contiguous run of acked offsets starting exactly at
    ``committed``; duplicates and offsets below it (re-acks of redelivered messages) are dropped.

    >>> committable([5, 6, 6, 7, 9], 5)
    (8, [9])
    >>> committable([6, 7], 5)  # offset 5 is still in flight: commit nothing
    (None, [6, 7])
    >>> committable([3, 4], None)
    (5, [])
    """
    offsets = set(acked)
    if committed is not None:
        offsets = {o for o in offsets if o >= committed}
        head = committed
    elif offsets:
        head = min(offsets)
    else:
        return None, []
    if head not in offsets:
        return None, sorted(offsets)
    n = head
    while n in offsets:
        n += 1
    return n, sorted(o for o in offsets if o > n)


class SafeCommitConsumer(faust_aiokafka.Consumer):
    """Faust's aiokafka consumer with :func:`committable` as its commit rule."""

    def _new_offset(self, tp: Any) -> int | None:
        acked = self._acked[tp]
        if not acked:
            return None
        committed = self._committed_offset[tp]
        gaps = self._gap[tp]
        if gaps:  # offsets that do not exist any more (see mark_gap) count as done
            top = max(acked)
            found = sorted(gaps.overlap(0, top + 1), key=lambda iv: iv.begin)
            for iv in found:
                acked.extend(range(iv.begin, iv.end))
            if found:
                gaps.chop(0, max(top + 1, found[-1].end))
        offset, keep = committable(acked, committed)
        acked[:] = keep
        self._acked_index[tp] = set(keep)
        return offset

    def committed(self, tp: Any) -> int | None:
        """The next offset to read as of the last commit or seek, if known."""
        return self._committed_offset.get(tp)

    def hold_back(self, message: Any) -> None:
        """Leave a message out without acking it: the commit cannot pass it; it comes again."""
        message.acked = True  # Message.ack is then a no-op, so the offset stays un-acked
        self._unacked_messages.discard(message)

    async def _add_gap(self, tp: Any, offset_from: int, offset_to: int) -> None:
        # Faust marks offsets the fetcher skipped as done. Our input topics are never compacted
        # and not transactional, so a skip means messages the consumer dropped (records of a
        # partition that was paused when they arrived): committing over them loses them. The
        # agents see the jump instead (PartitionOrder), seek back, and mark real gaps below.
        return None

    def mark_gap(self, tp: Any, start: int, end: int) -> None:
        """Treat offsets ``[start, end)`` as done: they were never delivered and never will be."""
        if start < end:
            self._gap[tp].addi(start, end)

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - runs in the worker
        # Faust's loop (faust/transport/consumer.py, 0.15), with one change: the message
        # callback runs in this task until it first has to wait. Faust hands every message to
        # ``wait_first(callback, suspend_flow.wait())``, which makes four tasks and an
        # ``asyncio.wait`` per message (a third of the worker's main thread at 8,000 events/s).
        # The race with ``suspend_flow`` matters only for a callback that waits (a full stream
        # buffer during a rebalance must not block this loop): such a callback, and every
        # callback while the flow is suspended, still goes through ``wait_first``.
        callback = self.callback
        getmany = self.getmany
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        set_flag = self.diag.set_flag
        unset_flag = self.diag.unset_flag
        commit_every = self._commit_every
        suspended = self.suspend_flow.is_set
        yield_every = 100
        num_since_yield = 0
        sleep = asyncio.sleep
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(CONSUMER_FETCHING)
                ait = getmany(timeout=1.0)
                await self.sleep(0)  # (Faust's: getmany can otherwise starve the loop)
                if not self.should_stop:
                    async for tp, message in ait:
                        num_since_yield += 1
                        if num_since_yield > yield_every:
                            await sleep(0)
                            num_since_yield = 0
                        offset = message.offset
                        r_offset = get_read_offset(tp)
                        if r_offset is None or offset >= r_offset:
                            # (Faust records a gap here; ours are marked by PartitionOrder.)
                            if commit_every is not None and self._n_acked >= commit_every:
                                self._n_acked = 0
                                await self.commit()
                            coro = callback(message)
                            if suspended() or not isinstance(coro, Coroutine):
                                await self.wait_first(coro, self.suspend_flow.wait())
                            else:
                                try:
                                    waiting_on = coro.send(None)
                                except StopIteration:
                                    pass  # done without waiting: the common case
                                else:
                                    await self.wait_first(_resume(coro, waiting_on), self.suspend_flow.wait())
                            set_read_offset(tp, offset)
                    unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            unset_flag(CONSUMER_FETCHING)


class _Yield:
    """Awaitable that hands ``value`` (what a coroutine yielded) to the running task."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __await__(self) -> Generator[Any, None, None]:
        yield self.value


async def _resume(coro: Coroutine[Any, Any, Any], waiting_on: Any) -> Any:
    """Finish, as a task would, a coroutine already run up to its first wait (``waiting_on``).

    The task waits on what the coroutine yielded; then the coroutine goes on, or receives what
    the task received instead (an exception, a cancellation), exactly as if it ran in the task.
    """
    while True:
        try:
            await _Yield(waiting_on)
        except BaseException as exc:
            try:
                waiting_on = coro.throw(exc)
            except StopIteration as done:
                return done.value
            continue
        try:
            waiting_on = coro.send(None)
        except StopIteration as done:
            return done.value


class SafeCommitTransport(faust_aiokafka.Transport):
    Consumer = SafeCommitConsumer


class App(faust.App):
    """A Faust app whose consumer commits with :func:`committable`, without Faust's Monitor."""

    def _new_transport(self) -> Any:
        return SafeCommitTransport(self.conf.broker_consumer, self)

    def on_init_dependencies(self) -> Any:
        deps = super().on_init_dependencies()
        # Faust's Monitor keeps per-message statistics for Faust's own web views, which the
        # worker does not serve (it has /metrics); its hooks cost microseconds per message.
        self.sensors.remove(self.monitor)
        return deps


class PartitionOrder:
    """Delivers each partition's messages in offset order, or says to hold them back.

    ``start(tp, offset)`` sets the next offset expected (the committed offset the consumer
    resumes from). ``admit(tp, offset)`` is True for the expected offset and for any earlier
    one (a redelivery after a seek: downstream per-key offsets drop what was already applied);
    False for a later one, which jumped over messages the consumer dropped. The caller then
    seeks the partition back to the expected offset (:meth:`take_seeks`, after each batch and
    on a timer) so that the hole and what follows it come again in order. A partition that
    keeps sending only later offsets for ``patience_s`` does not have the missing ones
    (retention): the jump is then accepted and reported by :meth:`take_jumps`.

    >>> o = PartitionOrder()
    >>> o.start("t0", 10)
    >>> o.admit("t0", 12)  # 10 and 11 were dropped on the way: hold 12 back, fetch from 10
    False
    >>> o.take_seeks()
    [('t0', 10)]
    >>> [o.admit("t0", x) for x in (10, 11, 12, 5)]
    [True, True, True, True]
    """

    def __init__(self, patience_s: float = 30.0, reseek_s: float = 2.0) -> None:
        self.patience_s = patience_s
        self.reseek_s = reseek_s
        self.expected: dict[Any, int] = {}
        self.ahead_since: dict[Any, float] = {}
        self.sought: dict[Any, float] = {}
        self.jumps: list[tuple[Any, int, int]] = []

    def start(self, tp: Any, offset: int | None) -> None:
        if offset is None:
            self.expected.pop(tp, None)
        else:
            self.expected[tp] = offset
        self.ahead_since.pop(tp, None)

    def reset(self) -> None:
        self.expected.clear()
        self.ahead_since.clear()
        self.sought.clear()

    def admit(self, tp: Any, offset: int) -> bool:
        want = self.expected.get(tp)
        if want is None or offset <= want:
            self._advance(tp, offset)
            return True
        now = time.monotonic()
        if now - self.ahead_since.setdefault(tp, now) < self.patience_s:
            return False
        self.jumps.append((tp, want, offset))
        self._advance(tp, offset)
        return True

    def _advance(self, tp: Any, offset: int) -> None:
        self.expected[tp] = offset + 1
        self.ahead_since.pop(tp, None)
        self.sought.pop(tp, None)

    def take_seeks(self) -> list[tuple[Any, int]]:
        """Partitions to seek back to their expected offset: held back and not sought lately.

        A seek can be undone by records the fetcher had already taken in (Faust moves its read
        position past them again), so a partition still stuck is sought again after reseek_s.
        """
        now = time.monotonic()
        seeks = []
        for tp in self.ahead_since:
            if now - self.sought.get(tp, -1e9) >= self.reseek_s:
                self.sought[tp] = now
                seeks.append((tp, self.expected[tp]))
        return seeks

    def take_jumps(self) -> list[tuple[Any, int, int]]:
        jumps, self.jumps = self.jumps, []
        return jumps
