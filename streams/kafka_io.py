"""Kafka sources and sinks on confluent-kafka: the event producer and the historical reader.

The producer is idempotent, compresses and batches; the message timestamp is the event time,
so that a topic's time range can be found with ``offsets_for_times``. The historical reader
assigns partitions directly (it never joins a consumer group, so it does not disturb the live
workers), reads each partition from the first offset at or after ``--from`` up to the first
offset at or after ``--to`` (or the end), and merges the partitions in event time.
"""

from __future__ import annotations

import heapq
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from streams.logs import get_logger

log = get_logger("distillguard.kafka")


def producer_config(bootstrap: str, **extra: Any) -> dict[str, Any]:
    conf: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,  # no duplicates or reordering from retries
        "acks": "all",
        "compression.type": "lz4",
        "linger.ms": 20,
        "batch.num.messages": 10000,
        "queue.buffering.max.messages": 500000,
        "partitioner": "consistent_random",  # CRC32 of the key, as models.pipeline.partition_of
    }
    conf.update(extra)
    return conf


class DeliveryTracker:
    """Delivery callback: counts what the broker acknowledged and what failed (with reasons)."""

    def __init__(self) -> None:
        self.delivered = 0
        self.failed = 0
        self.last_error: str | None = None

    def __call__(self, err: KafkaError | None, _msg: Any) -> None:
        if err is not None:
            self.failed += 1
            self.last_error = str(err)
        else:
            self.delivered += 1


def produce_events(
    bootstrap: str,
    topic: str,
    events: Iterable[dict[str, Any]],
    speed: float = 0.0,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Produce request events keyed by account; paced to ``speed`` x event time when > 0."""
    producer = Producer(producer_config(bootstrap))
    tracker = DeliveryTracker()
    n = 0
    wall0 = ev0 = None
    for ev in events:
        ts = float(ev["ts"])
        if speed > 0:
            if wall0 is None:
                wall0, ev0 = time.monotonic(), ts
            assert ev0 is not None
            delay = (ts - ev0) / speed - (time.monotonic() - wall0)
            if delay > 0:
                producer.poll(0)
                time.sleep(delay)
        produce_raw(producer, topic, str(ev["account_id"]).encode(), orjson.dumps(ev), int(ts * 1000), tracker)
        n += 1
        if n % 10000 == 0:
            producer.poll(0)
            if on_progress:
                on_progress(n)
    remaining = producer.flush(60)
    if remaining or tracker.failed:
        raise KafkaException(f"{remaining} messages not delivered, {tracker.failed} failed: {tracker.last_error}")
    return n


def produce_raw(
    producer: Producer,
    topic: str,
    key: bytes | None,
    value: bytes | None,
    ts_ms: int | None,
    on_delivery: Callable[..., None],
    partition: int | None = None,
    headers: list[tuple[str, bytes]] | None = None,
) -> None:
    kwargs: dict[str, Any] = {"key": key, "value": value, "on_delivery": on_delivery}
    if ts_ms is not None and ts_ms > 0:
        kwargs["timestamp"] = ts_ms
    if partition is not None:
        kwargs["partition"] = partition
    if headers:
        kwargs["headers"] = headers
    while True:
        try:
            producer.produce(topic, **kwargs)
            return
        except BufferError:  # local queue full: let the broker catch up
            producer.poll(0.05)


def consumer_config(bootstrap: str, group: str, **extra: Any) -> dict[str, Any]:
    conf: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "enable.auto.commit": False,  # commit after processing, never before
        "auto.offset.reset": "earliest",
        "enable.partition.eof": True,
    }
    conf.update(extra)
    return conf


def topic_range_source(
    bootstrap: str, topic: str, t_from: float | None, t_to: float | None, timeout_s: float = 30.0
) -> Iterator[tuple[str, bytes]]:
    """Messages of ``topic`` with timestamps in [t_from, t_to), merged in timestamp order."""
    consumer = Consumer(consumer_config(bootstrap, f"distillguard-replay-{uuid.uuid4().hex[:8]}"))
    try:
        meta = consumer.list_topics(topic, timeout=timeout_s)
        if topic not in meta.topics or meta.topics[topic].error is not None:
            raise ValueError(f"topic {topic!r} does not exist on {bootstrap}")
        parts = sorted(meta.topics[topic].partitions)
        start_ms = int(t_from * 1000) if t_from is not None else 0
        starts = consumer.offsets_for_times([TopicPartition(topic, p, start_ms) for p in parts], timeout=timeout_s)
        ends: dict[int, int] = {}
        for p in parts:
            _lo, hi = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout_s)
            ends[p] = hi
        if t_to is not None:
            stops = consumer.offsets_for_times(
                [TopicPartition(topic, p, int(t_to * 1000)) for p in parts], timeout=timeout_s
            )
            for tp in stops:
                if tp.offset >= 0:
                    ends[tp.partition] = min(ends[tp.partition], tp.offset)
        assign = []
        for tp in starts:
            off = tp.offset if tp.offset >= 0 else ends[tp.partition]
            if off < ends[tp.partition]:
                assign.append(TopicPartition(topic, tp.partition, off))
        if not assign:
            return
        consumer.assign(assign)
        yield from _merge_partitions(consumer, topic, {tp.partition: ends[tp.partition] for tp in assign}, timeout_s)
    finally:
        consumer.close()


def _merge_partitions(
    consumer: Consumer, topic: str, ends: dict[int, int], timeout_s: float
) -> Iterator[tuple[str, bytes]]:
    # Each partition is in timestamp order; keep one head per partition in a heap.
    buffers: dict[int, list[Any]] = {p: [] for p in ends}
    done: set[int] = set()
    heap: list[tuple[int, int, int, bytes]] = []
    in_heap: set[int] = set()
    idle_since = time.monotonic()

    def fill() -> None:
        nonlocal idle_since
        for msg in consumer.consume(num_messages=5000, timeout=0.5):
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    done.add(int(msg.partition() or 0))
                    continue
                raise KafkaException(err)
            p, off = int(msg.partition() or 0), int(msg.offset() or 0)
            if off >= ends[p]:
                done.add(p)
                continue
            buffers[p].append(msg)
            if off + 1 >= ends[p]:
                done.add(p)
            idle_since = time.monotonic()

    while True:
        for p in ends:
            if p not in in_heap and buffers[p]:
                m = buffers[p].pop(0)
                heapq.heappush(heap, (m.timestamp()[1], p, m.offset(), m.value() or b""))
                in_heap.add(p)
        waiting = [p for p in ends if p not in in_heap and p not in done]
        if waiting:
            fill()
            if time.monotonic() - idle_since > timeout_s:
                raise TimeoutError(f"no data from partitions {waiting} of {topic} for {timeout_s}s")
            continue
        if not heap:
            return
        _ts, p, off, value = heapq.heappop(heap)
        in_heap.discard(p)
        yield f"{topic}[{p}]@{off}", value
