"""The worker's per-event handler, without a broker: what it would produce is recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from models.config import load_settings
from models.pipeline import AccountStage
from streams.worker import Worker

GOOD = b'{"event_id":"e1","ts":10,"account_id":"a","model":"m","prompt_tokens":5,"completion_tokens":50}'


class RecordingSink:
    """Stands in for streams.sink.Sink: records each message the worker hands over."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, int, bytes | None, bytes | None, Any]] = []

    def send(self, topic: str, partition: int, key: bytes | None, value: bytes | None, headers: Any = None) -> None:
        self.sent.append((topic, partition, key, value, headers))

    def drain(self) -> None:
        return None


def test_event_that_meets_a_defect_is_dead_lettered_and_the_worker_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings()
    w = Worker(settings, bootstrap="localhost:1", data_dir=str(tmp_path), web_port=0)
    sink = RecordingSink()
    w.sink = sink  # type: ignore[assignment]
    process = AccountStage.process

    def flaky(self: AccountStage, ev: Any, out: Any = None) -> Any:
        if ev.event_id == "e1":
            raise KeyError("secret prompt text")
        return process(self, ev, out)

    monkeypatch.setattr(AccountStage, "process", flaky)
    w._request(GOOD, b"a", 0, 5, [], {})
    w._request(GOOD.replace(b'"e1"', b'"e2"'), b"a", 0, 6, [], {})  # the next event is processed
    dead = [m for m in sink.sent if m[0] == settings.kafka.deadletter_topic]
    assert len(dead) == 1
    _, _, key, value, headers = dead[0]
    assert key == b"a" and value == GOOD  # byte for byte
    reason = dict(headers)["dg.reason"].decode()
    assert reason.startswith("internal error: KeyError at test_worker.py:") and "secret" not in reason
    assert w.counters["internal_errors"] == 1 and w.counters["events"] == 1
    # the failed event's offset counts as applied: a redelivery does not fail again
    assert w.accounts(0).applied("a") == 6
