from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest

from models.config import load_settings
from models.pipeline import Pipeline
from streams.evaluation import Evaluator


def run(raws: list[bytes], labels: dict[str, str] | None = None) -> tuple[list[dict], Evaluator]:  # type: ignore[type-arg]
    p = Pipeline(load_settings())
    ev = Evaluator(labels or {})
    alerts = []
    for raw in raws:
        for a in p.process_raw(raw):
            alerts.append(a)
            ev.observe_alert(a)
    return alerts, ev


def test_replay_is_deterministic(small_sim: tuple[list[bytes], dict[str, str]]) -> None:
    raws, _ = small_sim
    a1, _ = run(raws)
    a2, _ = run(raws)
    assert a1 and [a["alert_id"] for a in a1] == [a["alert_id"] for a in a2]
    assert len({a["alert_id"] for a in a1}) == len(a1)


def test_alerts_validate_against_schema(small_sim: tuple[list[bytes], dict[str, str]], alert_schema: dict) -> None:  # type: ignore[type-arg]
    alerts, _ = run(small_sim[0][:60000])
    assert alerts
    validator = jsonschema.Draft202012Validator(alert_schema)
    for a in alerts:
        validator.validate(a)
        assert "prompt" not in a
        for r in a["reasons"]:  # reasons carry feature names and numbers, never request text
            assert set(r) <= {"feature", "value", "baseline", "points", "detail"}
            assert isinstance(r["value"], int | float)


def test_campaigns_detected_and_benign_spared(small_sim: tuple[list[bytes], dict[str, str]]) -> None:
    raws, labels = small_sim
    p = Pipeline(load_settings())
    ev = Evaluator(labels)
    for raw in raws:
        e = p.process_raw(raw)
        for a in e:
            ev.observe_alert(a)
    for acct in {a for st in p.accounts for a in st.states}:
        ev.seen.add(acct)
    m = ev.metrics()
    assert m["campaigns_detected"] == len(m["campaigns"]) == 3
    assert m["campaign_recall"] >= 0.9
    assert m["benign_suspended_count"] == 0
    assert m["benign_flagged_share"] <= 0.003


def test_bad_events_are_counted_and_never_stop_the_run(small_sim: tuple[list[bytes], dict[str, str]]) -> None:
    p = Pipeline(load_settings())
    good = small_sim[0][:200]
    mixed = []
    for i, raw in enumerate(good):
        mixed.append(raw)
        if i % 10 == 0:
            mixed += [b"\x00\xff garbage", raw[: len(raw) // 2], b'{"event_id": 5}']
    for raw in mixed:
        p.process_raw(raw)
    assert p.counters["events"] == 200
    assert p.counters["rejects"] == 60
    assert all(r["reason"] for r in p.rejects)


def test_duplicates_are_dropped(small_sim: tuple[list[bytes], dict[str, str]]) -> None:
    p = Pipeline(load_settings())
    raws = small_sim[0][:500]
    for raw in raws:
        p.process_raw(raw)
        p.process_raw(raw)
    assert p.counters["duplicates"] == 500
    assert sum(st.n for stage in p.accounts for st in stage.states.values()) == 500


def test_alerts_carry_the_accounts_organisations(small_sim: tuple[list[bytes], dict[str, str]]) -> None:
    import orjson

    raws, _ = small_sim
    orgs = {}
    for raw in raws:
        d = orjson.loads(raw)
        if d.get("org_id"):
            orgs[d["account_id"]] = d["org_id"]
    alerts, _ = run(raws)
    with_orgs = [a for a in alerts if "org_ids" in a]
    assert with_orgs
    for a in with_orgs:
        assert set(a["org_ids"]) <= set(a["accounts"])
        assert all(orgs[acct] == org for acct, org in a["org_ids"].items())


def test_benign_flag_count_is_not_truncated() -> None:
    ev = Evaluator({})
    for i in range(120):
        ev.observe_event(f"b{i}", 1.0)
        ev.observe_alert({"accounts": [f"b{i}"], "severity": "medium", "ts": 2.0, "recommended_action": "verify"})
    m = ev.metrics()
    assert m["benign_flagged_count"] == 120 and len(m["benign_flagged"]) == 50


def test_extreme_timestamps_do_not_stop_the_pipeline() -> None:
    """ts is any number >= 0 by contract: 1e300 once overflowed the account's hour counter."""
    from models.config import load_settings
    from models.events import RequestEvent, parse_event
    from models.pipeline import Pipeline

    p = Pipeline(load_settings())
    seen = 0
    for i, ts in enumerate([1.7e9, 1e300, 0.0, 1.7976931348623157e308, 1.7e9 + 5, 5e-324] * 5):
        raw = (
            f'{{"event_id":"e{i}","ts":{ts!r},"account_id":"a{i % 2}","model":"m","prompt_tokens":3,'
            f'"completion_tokens":9,"prompt":"think step by step about item {i}","account_created_ts":{ts!r}}}'
        )
        ev = parse_event(raw.encode())
        assert isinstance(ev, RequestEvent)
        p.process(ev)
        seen += 1
    assert p.counters["events"] == seen
    assert all(st.n == seen // 2 for stage in p.accounts for st in stage.states.values())


def test_replay_survives_an_event_that_meets_a_defect(
    small_sim: tuple[list[bytes], dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A defect met by one event costs that event (a reject with the place), not the run."""
    import orjson

    from models.events import RequestEvent
    from streams.replay import replay

    raws = small_sim[0][:400]
    victim = orjson.loads(raws[150])["event_id"]
    process = Pipeline.process

    def flaky(self: Pipeline, ev: RequestEvent) -> list[dict[str, Any]]:
        if ev.event_id == victim:
            raise KeyError("secret prompt text")
        return process(self, ev)

    monkeypatch.setattr(Pipeline, "process", flaky)
    res = replay(((f"x:{i}", r) for i, r in enumerate(raws)), load_settings(), tmp_path, progress=False, report=False)
    rows = [orjson.loads(line) for line in (tmp_path / "rejects.jsonl").read_bytes().splitlines()]
    assert res.events == 400
    assert res.counters["internal_errors"] == 1
    assert len(rows) == 1 and rows[0]["source"] == f"event_id={victim}"
    assert rows[0]["reason"].startswith("internal error: KeyError at test_pipeline.py:")
    assert "secret" not in rows[0]["reason"]
    assert rows[0]["raw"].startswith(f'{{"event_id":"{victim}"')  # the first 512 bytes, like a reject
