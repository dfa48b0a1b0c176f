"""The worker's outputs: one idempotent confluent-kafka producer, drained at the end of a batch.

Faust acks the events of a ``take_events`` batch only after the agent's loop body returns, and
commits only acked offsets. Every agent therefore ends its batch with ``sink.drain()``:
by the time a batch's offsets can be committed, everything the batch produced (alerts, link and
summary batches, membership changes, changelog writes) is on the broker. librdkafka does the
batching, compression and retries in its own threads, off the event loop.

A message the broker refuses for good (after librdkafka's retries) stops the worker at once
with exit code 70 and without committing: an exception would not do, because Faust acks a
batch's events even when the agent's body raises. The supervisor restarts the worker and the
batch is processed again; per-key offsets in the tables keep that from counting twice.
"""

from __future__ import annotations

import os

from confluent_kafka import Producer

from streams.kafka_io import DeliveryTracker, produce_raw, producer_config
from streams.logs import get_logger

log = get_logger("distillguard.sink")

EXIT_UNDELIVERABLE = 70


class Sink:
    def __init__(self, bootstrap: str, drain_timeout_s: float = 120.0) -> None:
        # A short linger: the batch is drained right after it is produced.
        self.producer = Producer(producer_config(bootstrap, **{"linger.ms": 5}))
        self.tracker = DeliveryTracker()
        self.drain_timeout_s = drain_timeout_s
        self.sent = 0

    def send(
        self,
        topic: str,
        partition: int,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        produce_raw(self.producer, topic, key, value, None, self.tracker, partition=partition, headers=headers)
        self.sent += 1

    def drain(self) -> None:
        """Block until every message produced so far is acknowledged by the broker.

        Blocking on purpose: an ``await`` here would let Faust run a rebalance in the middle of
        a batch, and acking that batch's events afterwards can leave a gap in the offsets Faust
        commits (the group's lag then stops moving). A drain takes a few milliseconds.
        """
        remaining = self.producer.flush(self.drain_timeout_s)
        if remaining:
            self._fail(f"{remaining} messages not delivered within {self.drain_timeout_s:.0f} s")
        if self.tracker.failed:
            self._fail(self.tracker.last_error or "delivery failed")

    def _fail(self, reason: str) -> None:
        log.critical("outputs not delivered; stopping without committing", reason=reason, failed=self.tracker.failed)
        os._exit(EXIT_UNDELIVERABLE)

    def close(self) -> None:
        self.producer.flush(10)
