"""Helpers for the integration tests: isolated topic sets, worker processes, draining."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, ClassVar

import orjson
import yaml
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from models.config import Settings, load_settings
from streams.kafka_io import DeliveryTracker, produce_raw, producer_config
from streams.topics import create_topics

REPO = Path(__file__).resolve().parents[1]


class KafkaEnv:
    """A private set of topics and a consumer group id, with settings in a YAML file."""

    # The tests run small inputs: small batches make several batches (and commits) of them.
    TEST_WORKER: ClassVar[dict[str, Any]] = {"batch_size": 200, "batch_within_s": 0.1}

    def __init__(self, bootstrap: str, tmp: Path, partitions: int = 4, worker: dict[str, Any] | None = None) -> None:
        """``worker``: worker settings besides the isolated app id (default ``TEST_WORKER``)."""
        self.bootstrap = bootstrap
        uid = uuid.uuid4().hex[:8]
        self.prefix = f"t{uid}"
        self.tmp = tmp
        cfg: dict[str, Any] = {
            "kafka": {
                "bootstrap_servers": bootstrap,
                "partitions": partitions,
                "requests_topic": f"{self.prefix}.requests",
                "deadletter_topic": f"{self.prefix}.requests.deadletter",
                "links_topic": f"{self.prefix}.links",
                "membership_topic": f"{self.prefix}.membership",
                "summaries_topic": f"{self.prefix}.summaries",
                "alerts_topic": f"{self.prefix}.alerts",
                "actions_topic": f"{self.prefix}.actions",
                "alerts_deadletter_topic": f"{self.prefix}.alerts.deadletter",
            },
            "worker": {"app_id": f"dg-{uid}", **(self.TEST_WORKER if worker is None else worker)},
        }
        self.config_path = tmp / f"{self.prefix}.yaml"
        self.config_path.write_text(yaml.safe_dump(cfg))
        self.settings: Settings = load_settings(self.config_path)
        create_topics(self.settings, bootstrap)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.stopped: set[int] = set()

    @property
    def k(self) -> Any:
        return self.settings.kafka

    def produce(self, raws: list[bytes], keys: list[bytes | None] | None = None) -> None:
        from confluent_kafka import Producer

        p = Producer(producer_config(self.bootstrap))
        tracker = DeliveryTracker()
        for i, raw in enumerate(raws):
            key = keys[i] if keys else _key_of(raw)
            ts = _ts_of(raw)
            produce_raw(p, self.k.requests_topic, key, raw, ts, tracker)
            if i % 5000 == 0:
                p.poll(0)
        assert p.flush(60) == 0 and tracker.failed == 0, tracker.last_error

    def start_worker(self, name: str) -> subprocess.Popen[bytes]:
        log = open(self.tmp / f"{self.prefix}-{name}.log", "ab")  # noqa: SIM115
        env = dict(os.environ, DISTILLGUARD_LOG_FORMAT="json")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streams.cli",
                "worker",
                "--config",
                str(self.config_path),
                "--data-dir",
                str(self.tmp / f"{self.prefix}-{name}"),
                "--web-port",
                "0",
            ],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
        self.stopped.add(proc.pid)
        os.killpg(proc.pid, sig)
        proc.wait(timeout=60)

    def stop_all(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                    p.wait(timeout=30)
                except (subprocess.TimeoutExpired, ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)

    def lag(self, topics: tuple[str, ...] | None = None) -> int:
        """Messages the worker group has not committed yet, over its input topics (or ``topics``)."""
        group = self.settings.worker.app_id
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": group, "enable.auto.commit": False})
        topics = topics or (self.k.requests_topic, self.k.membership_topic, self.k.links_topic, self.k.summaries_topic)
        try:
            total = 0
            for topic in topics:
                meta = c.list_topics(topic, timeout=10).topics[topic]
                tps = [TopicPartition(topic, p) for p in meta.partitions]
                committed = c.committed(tps, timeout=10)
                for tp in committed:
                    _, hi = c.get_watermark_offsets(TopicPartition(topic, tp.partition), timeout=10)
                    total += hi - max(tp.offset, 0)
            return total
        finally:
            c.close()

    def wait_drained(self, timeout: float = 240.0, stable_for: float = 4.0) -> None:
        deadline = time.time() + timeout
        zero_since: float | None = None
        while time.time() < deadline:
            for p in self.procs:
                if p.pid not in self.stopped and p.poll() is not None:
                    raise AssertionError(f"worker exited with {p.returncode}; see logs in {self.tmp}")
            if self.lag() == 0:
                zero_since = zero_since or time.time()
                if time.time() - zero_since >= stable_for:
                    return
            else:
                zero_since = None
            time.sleep(1.0)
        raise AssertionError(f"worker did not drain its input within {timeout}s (lag {self.lag()})")

    def read_all(self, topic: str, timeout: float = 10.0) -> list[Any]:
        c = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": f"reader-{uuid.uuid4().hex[:6]}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
            }
        )
        meta = c.list_topics(topic, timeout=10).topics[topic]
        c.assign([TopicPartition(topic, p, 0) for p in meta.partitions])
        out: list[Any] = []
        eof: set[int] = set()
        deadline = time.time() + timeout
        while len(eof) < len(meta.partitions) and time.time() < deadline:
            for m in c.consume(1000, timeout=0.5):
                if m.error() is not None:
                    eof.add(m.partition())
                    continue
                out.append(m)
        c.close()
        return out

    def account_counts(self) -> dict[str, int]:
        """Events counted per account in the worker's state, as the changelog holds it."""
        import pickle

        latest: dict[bytes, bytes | None] = {}
        for m in self.read_all(f"{self.settings.worker.app_id}-accounts-changelog"):
            latest[m.key()] = m.value()
        return {k.decode(): pickle.loads(v)[0].n for k, v in latest.items() if v}

    def alerts(self) -> list[dict[str, Any]]:
        return [orjson.loads(m.value()) for m in self.read_all(self.k.alerts_topic)]

    def delete_topics(self) -> None:
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        names = [
            t
            for t in admin.list_topics(timeout=10).topics
            if t.startswith(self.prefix) or t.startswith(self.settings.worker.app_id)
        ]
        if names:
            for fut in admin.delete_topics(names).values():
                with contextlib.suppress(Exception):  # best-effort cleanup
                    fut.result()


def _key_of(raw: bytes) -> bytes | None:
    try:
        d = orjson.loads(raw)
        return str(d["account_id"]).encode() if isinstance(d, dict) and "account_id" in d else None
    except orjson.JSONDecodeError:
        return None


def _ts_of(raw: bytes) -> int | None:
    try:
        d = orjson.loads(raw)
        ts = d.get("ts") if isinstance(d, dict) else None
        return int(ts * 1000) if isinstance(ts, int | float) and ts > 0 else None
    except (orjson.JSONDecodeError, OverflowError, ValueError):
        return None
