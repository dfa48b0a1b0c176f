"""The enforcement consumer: alerts -> durable, safe, idempotent actions.

Per batch: decide every alert's actions in one SQLite transaction (actions, history, outbox and
the alert ids), commit it, publish the outbox to ``enforcement.actions`` (key account_id), and
only then commit the Kafka offsets. A crash between the store commit and the offset commit
re-delivers alerts whose ids are already stored: they are skipped, so nothing acts twice. A
webhook thread delivers the outbox with retries and backoff and an ``Idempotency-Key`` header;
a webhook that is down delays delivery, never loses it.
"""

from __future__ import annotations

import signal
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from typing import Any

import orjson
from confluent_kafka import Consumer, Producer

from models.config import Settings
from streams.actions import RANK, SEVERITY_RANK, ActionStore, EnforcementPolicy
from streams.kafka_io import DeliveryTracker, consumer_config, produce_raw, producer_config
from streams.logs import get_logger

log = get_logger("distillguard.enforce")

_SUBJECTS = {"account", "cluster"}
_RECOMMENDED = {"observe", "throttle", "verify", "suspend"}


def validate_alert(raw: bytes) -> dict[str, Any]:
    """Decode an alert and check the fields enforcement relies on; ValueError names the field."""
    try:
        a = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"(root): malformed JSON: {exc}") from None
    if not isinstance(a, dict):
        raise ValueError("(root): an alert is a JSON object")
    for key in ("alert_id", "subject_id"):
        if not isinstance(a.get(key), str) or not a[key]:
            raise ValueError(f"{key}: required non-empty string")
    if a.get("subject_type") not in _SUBJECTS:
        raise ValueError("subject_type: must be account or cluster")
    if a.get("severity") not in SEVERITY_RANK:
        raise ValueError("severity: must be low, medium, high or critical")
    if a.get("recommended_action") not in _RECOMMENDED:
        raise ValueError("recommended_action: must be observe, throttle, verify or suspend")
    accts = a.get("accounts")
    if not isinstance(accts, list) or not accts or not all(isinstance(x, str) and x for x in accts):
        raise ValueError("accounts: a non-empty list of account ids")
    if not isinstance(a.get("score"), int | float) or not 0 <= a["score"] <= 100:
        raise ValueError("score: a number from 0 to 100")
    if not isinstance(a.get("ts"), int | float):
        raise ValueError("ts: a number (epoch seconds)")
    if not isinstance(a.get("reasons"), list) or not a["reasons"]:
        raise ValueError("reasons: a non-empty list")
    return a


class SimulatedCrash(RuntimeError):
    """Raised by the test hook between the store commit and the offset commit."""


class Enforcer:
    def __init__(
        self,
        settings: Settings,
        policy: EnforcementPolicy,
        store_path: str,
        bootstrap: str | None = None,
        group: str = "enforcement",
        webhook: str | None = None,
        webhook_timeout_s: float = 5.0,
    ) -> None:
        k = settings.kafka
        self.settings = settings
        self.policy = policy
        self.store_path = store_path
        self.store = ActionStore(store_path)
        self.bootstrap = bootstrap or k.bootstrap_servers
        self.consumer = Consumer(consumer_config(self.bootstrap, group, **{"enable.partition.eof": False}))
        self.producer = Producer(producer_config(self.bootstrap))
        self.counters: Counter[str] = Counter()
        self.breaker_open = False
        self.stopping = threading.Event()
        self.webhook = webhook
        self.webhook_timeout_s = webhook_timeout_s
        self.crash_after_store = False  # test hook

    # -- decisions ----------------------------------------------------------------------------
    def decide(self, alert: dict[str, Any]) -> list[dict[str, Any]]:
        """Apply one alert inside the open transaction; return the action records written."""
        out: list[dict[str, Any]] = []
        p = self.policy
        for account in alert["accounts"]:
            action, why = p.action_for(alert, account)
            if action == "none":
                continue
            cur = self.store.current(account)
            if cur is not None:
                if cur["status"] == "undone":
                    if RANK[action] <= cur["undone_rank"]:
                        self.counters["kept_undone"] += 1
                        continue  # a person took it back: the same evidence does not re-apply it
                elif RANK[action] <= RANK[cur["action"]]:
                    self.counters["not_escalated"] += 1
                    continue  # escalation only
            status = "dry_run" if p.dry_run else "active"
            if action == "suspend" and not p.dry_run:
                recent = self.store.suspensions_since(alert["ts"] - p.breaker_window_s)
                if recent >= p.breaker_max_suspensions:
                    status = "held"
                    why = f"circuit breaker: {recent} suspensions within {p.breaker_window_s / 60:g} min"
                    if not self.breaker_open:
                        self.breaker_open = True
                        self.counters["breaker_trips"] += 1
                        meta = {
                            "type": "meta_alert",
                            "event": "breaker_tripped",
                            "suspensions": recent,
                            "window_s": p.breaker_window_s,
                            "ts": alert["ts"],
                            "decided_at": time.time(),
                        }
                        self.store.meta("breaker", meta)
                        log.error("circuit breaker tripped: suspensions held for review", suspensions=recent)
                elif self.breaker_open:
                    self.breaker_open = False
                    self.store.meta(
                        "breaker",
                        {
                            "type": "meta_alert",
                            "event": "breaker_recovered",
                            "ts": alert["ts"],
                            "decided_at": time.time(),
                        },
                    )
                    log.warning("circuit breaker recovered")
            rate = p.throttle_rate_per_minute if action == "throttle" else None
            out.append(self.store.apply(account, action, status, alert, rate, why))
            self.counters[f"actions.{action}.{status}"] += 1
        return out

    # -- the loop -----------------------------------------------------------------------------
    def process_batch(self, msgs: list[Any]) -> int:
        dead: list[tuple[Any, str]] = []
        n = 0
        self.store.begin()
        try:
            for m in msgs:
                try:
                    alert = validate_alert(m.value() or b"")
                except ValueError as exc:
                    dead.append((m, str(exc)))
                    continue
                if self.store.seen(alert["alert_id"]):
                    self.counters["duplicates"] += 1
                    continue
                self.decide(alert)
                self.store.mark_seen(alert)
                n += 1
            self.store.commit()
        except Exception:
            self.store.rollback()
            raise
        self._publish(dead)
        if self.crash_after_store:
            raise SimulatedCrash("crash between the store commit and the offset commit")
        self.consumer.commit(asynchronous=False)
        self.counters["alerts"] += n
        return n

    def _publish(self, dead: list[tuple[Any, str]]) -> None:
        tracker = DeliveryTracker()
        k = self.settings.kafka
        rows = self.store.unpublished()
        for _oid, key, payload in rows:
            produce_raw(self.producer, k.actions_topic, key.encode(), payload, None, tracker)
        for m, reason in dead:
            self.counters["alerts_rejected"] += 1
            log.warning("malformed alert", reason=reason, partition=m.partition(), offset=m.offset())
            self.producer.produce(
                k.alerts_deadletter_topic,
                key=m.key(),
                value=m.value() or b"",
                headers=[
                    ("dg.reason", reason.encode()),
                    ("dg.source", f"{m.topic()}[{m.partition()}]@{m.offset()}".encode()),
                ],
                on_delivery=tracker,
            )
        if self.producer.flush(30) or tracker.failed:
            raise RuntimeError(f"publishing actions failed: {tracker.last_error}")
        if rows:
            self.store.begin()
            self.store.mark_published([r[0] for r in rows])
            self.store.commit()

    def run(self, idle_exit_s: float | None = None, max_batches: int | None = None) -> None:
        assigned = threading.Event()
        self.consumer.subscribe([self.settings.kafka.alerts_topic], on_assign=lambda _c, _p: assigned.set())
        hook = threading.Thread(target=self._webhook_loop, daemon=True) if self.webhook else None
        if hook:
            hook.start()
        self._publish([])  # anything a crash left in the outbox
        idle_since = time.monotonic()
        batches = 0
        try:
            while not self.stopping.is_set():
                msgs = [m for m in self.consumer.consume(500, timeout=0.5) if m.error() is None]
                if not msgs:
                    if not assigned.is_set():
                        idle_since = time.monotonic()  # idle only counts once we own partitions
                    elif idle_exit_s is not None and time.monotonic() - idle_since > idle_exit_s:
                        break
                    continue
                idle_since = time.monotonic()
                self.process_batch(msgs)
                batches += 1
                if max_batches is not None and batches >= max_batches:
                    break
        finally:
            self.stopping.set()
            if hook:
                hook.join(timeout=10)
            self.consumer.close()
            self.store.close()

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())

    # -- webhook ------------------------------------------------------------------------------
    def _webhook_loop(self) -> None:
        store = ActionStore(self.store_path)  # its own connection (WAL: concurrent with the consumer)
        try:
            while not self.stopping.is_set() or store.undelivered(time.time(), 1):
                rows = store.undelivered(time.time())
                if not rows:
                    if self.stopping.is_set():
                        break
                    time.sleep(0.2)
                    continue
                for oid, payload, attempts in rows:
                    if self._post(payload):
                        store.mark_delivered(oid)
                        self.counters["webhook_delivered"] += 1
                    else:
                        delay = min(30.0, 0.25 * 2**attempts)
                        store.retry_later(oid, attempts + 1, time.time() + delay)
                        self.counters["webhook_retries"] += 1
                        break  # keep order: retry this one before later ones
                if self.stopping.is_set():
                    break
        finally:
            store.close()

    def _post(self, payload: bytes) -> bool:
        assert self.webhook is not None
        key = orjson.loads(payload).get("idempotency_key", "")
        req = urllib.request.Request(
            self.webhook,
            data=payload,
            method="POST",
            headers={"Content-Type": "application/json", "Idempotency-Key": key},
        )
        try:
            with urllib.request.urlopen(req, timeout=self.webhook_timeout_s) as resp:
                return 200 <= resp.status < 300
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError):
            return False
