"""Enforcement: the policy (alert -> action) and the durable action store (SQLite, WAL).

Lifecycle of an account's action: ``active`` (in force), ``held`` (a suspension the circuit
breaker holds for human review), ``undone`` (a person took it back; it stays undone against the
same evidence: only a stronger action re-applies), ``dry_run`` (recorded, not enforced).
Escalation only: a weaker alert never replaces a stronger action in force.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

ACTIONS = ("none", "observe", "throttle", "verify", "suspend")
RANK = {a: i for i, a in enumerate(ACTIONS)}
SEVERITY_RANK = {"low": 1, "medium": 2, "high": 3, "critical": 4}


class PolicyError(ValueError):
    pass


@dataclass(frozen=True)
class EnforcementPolicy:
    """Severity -> action, allowlists, minimum evidence, breaker, dry run (see README)."""

    min_severity: dict[str, str] = field(
        default_factory=lambda: {"observe": "low", "throttle": "medium", "verify": "high", "suspend": "critical"}
    )
    throttle_rate_per_minute: int = 10
    suspend_requires_cluster: bool = True
    suspend_min_reasons: int = 4  # ... or at least this many independent reasons
    allow_accounts: frozenset[str] = frozenset()
    allow_orgs: frozenset[str] = frozenset()
    breaker_max_suspensions: int = 50
    breaker_window_s: float = 600.0
    dry_run: bool = False

    @classmethod
    def load(cls, path: str | Path | None) -> EnforcementPolicy:
        if path is None:
            return cls()
        try:
            d = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise PolicyError(f"cannot read policy {path}: {exc}") from exc
        if not isinstance(d, dict):
            raise PolicyError(f"{path}: a policy is a mapping")
        known = {"actions", "allowlist", "evidence", "breaker", "dry_run"}
        unknown = set(d) - known
        if unknown:
            raise PolicyError(f"{path}: unknown keys {sorted(unknown)}; expected {sorted(known)}")
        acts = d.get("actions") or {}
        mins = dict(cls().min_severity)
        rate = 10
        for name, spec in acts.items():
            if name not in RANK or name == "none":
                raise PolicyError(f"{path}: actions.{name}: unknown action (observe, throttle, verify, suspend)")
            sev = spec.get("min_severity") if isinstance(spec, dict) else spec
            if sev not in SEVERITY_RANK:
                raise PolicyError(f"{path}: actions.{name}: min_severity must be low, medium, high or critical")
            mins[name] = sev
            if name == "throttle" and isinstance(spec, dict) and "rate_per_minute" in spec:
                rate = int(spec["rate_per_minute"])
        ev = d.get("evidence") or {}
        allow = d.get("allowlist") or {}
        br = d.get("breaker") or {}
        return cls(
            min_severity=mins,
            throttle_rate_per_minute=rate,
            suspend_requires_cluster=bool(ev.get("suspend_requires_cluster", True)),
            suspend_min_reasons=int(ev.get("suspend_min_reasons", 4)),
            allow_accounts=frozenset(map(str, allow.get("accounts") or [])),
            allow_orgs=frozenset(map(str, allow.get("orgs") or [])),
            breaker_max_suspensions=int(br.get("max_suspensions", 50)),
            breaker_window_s=float(br.get("window_minutes", 10)) * 60.0,
            dry_run=bool(d.get("dry_run", False)),
        )

    def action_for(self, alert: dict[str, Any], account: str) -> tuple[str, str]:
        """(action, why) for one account covered by an alert, before escalation and breaker."""
        sev = SEVERITY_RANK[alert["severity"]]
        action = "none"
        for name in ACTIONS[1:]:
            if SEVERITY_RANK[self.min_severity[name]] <= sev:
                action = name
        # never beyond what the detector recommends
        if RANK[action] > RANK[alert["recommended_action"]]:
            action = alert["recommended_action"]
        why = f"severity {alert['severity']}"
        if action == "suspend":
            strong = alert["subject_type"] == "cluster" if self.suspend_requires_cluster else True
            if not strong and len(alert["reasons"]) < self.suspend_min_reasons:
                action, why = "verify", "suspend needs a cluster alert or more independent reasons"
        orgs = alert.get("org_ids") or {}
        if account in self.allow_accounts or orgs.get(account) in self.allow_orgs:
            if RANK[action] > RANK["verify"]:
                action, why = "verify", "allowlisted: never throttled or suspended"
            if action == "throttle":
                action, why = "observe", "allowlisted: never throttled or suspended"
        return action, why


SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts_seen (alert_id TEXT PRIMARY KEY, received_at REAL, subject_id TEXT);
CREATE TABLE IF NOT EXISTS actions (
  account_id TEXT PRIMARY KEY, action TEXT, status TEXT, rate_per_minute INTEGER, alert_id TEXT,
  subject_id TEXT, score REAL, ts REAL, updated_at REAL, undone_rank INTEGER DEFAULT 0,
  undone_by TEXT, undone_why TEXT);
CREATE TABLE IF NOT EXISTS history (
  id INTEGER PRIMARY KEY AUTOINCREMENT, account_id TEXT, action TEXT, status TEXT, alert_id TEXT,
  at REAL, ts REAL, note TEXT);
CREATE INDEX IF NOT EXISTS history_account ON history(account_id);
CREATE INDEX IF NOT EXISTS history_suspend ON history(action, status, ts);
CREATE TABLE IF NOT EXISTS outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT, payload BLOB, published INTEGER DEFAULT 0,
  delivered INTEGER DEFAULT 0, attempts INTEGER DEFAULT 0, next_attempt REAL DEFAULT 0);
"""
# The same tables in PostgreSQL's types.
POSTGRES_SCHEMA = (
    SQLITE_SCHEMA.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY")
    .replace("REAL", "DOUBLE PRECISION")
    .replace("BLOB", "BYTEA")
)


def is_postgres(target: str | Path) -> bool:
    return str(target).startswith(("postgresql://", "postgres://"))


class ActionStore:
    """The action store: SQLite in WAL mode (a path) or PostgreSQL (a ``postgresql://`` DSN).

    One transaction per batch of alerts: decisions, history, outbox and the alerts' ids
    together, so that a crash before the Kafka commit cannot act twice. The SQL is the same on
    both; only the schema's types and the placeholders differ.
    """

    def __init__(self, target: str | Path) -> None:
        self.pg = is_postgres(target)
        if self.pg:
            import psycopg

            self.db: Any = psycopg.connect(str(target), autocommit=True)
            for stmt in filter(str.strip, POSTGRES_SCHEMA.split(";")):
                self.db.execute(stmt)
        else:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(target), isolation_level=None, check_same_thread=False, timeout=30)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")  # WAL: a process crash loses no commit
            self.db.executescript(SQLITE_SCHEMA)

    def _x(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        if self.pg:
            return self.db.execute(sql.replace("?", "%s"), params)
        return self.db.execute(sql, params)

    def close(self) -> None:
        self.db.close()

    # -- the consumer's transaction ---------------------------------------------------------
    def begin(self) -> None:
        self.db.execute("BEGIN" if self.pg else "BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.db.execute("COMMIT")

    def rollback(self) -> None:
        self.db.execute("ROLLBACK")

    def seen(self, alert_id: str) -> bool:
        return self._x("SELECT 1 FROM alerts_seen WHERE alert_id=?", (alert_id,)).fetchone() is not None

    def mark_seen(self, alert: dict[str, Any]) -> None:
        self._x(
            "INSERT INTO alerts_seen VALUES (?,?,?) ON CONFLICT DO NOTHING",
            (alert["alert_id"], time.time(), alert["subject_id"]),
        )

    def current(self, account: str) -> dict[str, Any] | None:
        cur = self._x("SELECT * FROM actions WHERE account_id=?", (account,))
        row = cur.fetchone()
        if row is None:
            return None
        return dict(zip([c[0] for c in cur.description], row, strict=True))

    def suspensions_since(self, ts: float) -> int:
        row = self._x(
            "SELECT COUNT(*) FROM history WHERE action='suspend' AND status='active' AND ts>=?", (ts,)
        ).fetchone()
        return int(row[0])

    def apply(
        self, account: str, action: str, status: str, alert: dict[str, Any], rate: int | None, note: str
    ) -> dict[str, Any]:
        now = time.time()
        self._x(
            "INSERT INTO actions(account_id, action, status, rate_per_minute, alert_id, subject_id, score, ts, "
            "updated_at) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(account_id) DO UPDATE SET action=excluded.action, "
            "status=excluded.status, rate_per_minute=excluded.rate_per_minute, alert_id=excluded.alert_id, "
            "subject_id=excluded.subject_id, score=excluded.score, ts=excluded.ts, updated_at=excluded.updated_at",
            (account, action, status, rate, alert["alert_id"], alert["subject_id"], alert["score"], alert["ts"], now),
        )
        self._x(
            "INSERT INTO history(account_id, action, status, alert_id, at, ts, note) VALUES (?,?,?,?,?,?,?)",
            (account, action, status, alert["alert_id"], now, alert["ts"], note),
        )
        record = {
            "account_id": account,
            "action": action,
            "status": status,
            "rate_per_minute": rate,
            "alert_id": alert["alert_id"],
            "subject_type": alert["subject_type"],
            "subject_id": alert["subject_id"],
            "score": alert["score"],
            "severity": alert["severity"],
            "ts": alert["ts"],
            "decided_at": now,
            "note": note,
            "idempotency_key": f"{alert['alert_id']}:{account}",
        }
        self._x("INSERT INTO outbox(key, payload) VALUES (?,?)", (account, orjson.dumps(record)))
        return record

    def meta(self, key: str, record: dict[str, Any]) -> None:
        self._x("INSERT INTO outbox(key, payload, delivered) VALUES (?,?,1)", (key, orjson.dumps(record)))

    # -- operator commands --------------------------------------------------------------------
    def list_actions(self, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        q = "SELECT * FROM actions" + (" WHERE status=?" if status else "") + " ORDER BY updated_at DESC LIMIT ?"
        cur = self._x(q, (status, limit) if status else (limit,))
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]

    def history(self, account: str) -> list[dict[str, Any]]:
        cur = self._x("SELECT * FROM history WHERE account_id=? ORDER BY id", (account,))
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]

    def undo(self, account: str, by: str, why: str) -> dict[str, Any]:
        cur = self.current(account)
        if cur is None or cur["status"] == "undone":
            raise PolicyError(f"no action in force for {account}")
        now = time.time()
        self.begin()
        try:
            self._x(
                "UPDATE actions SET status='undone', undone_rank=?, undone_by=?, undone_why=?, updated_at=? "
                "WHERE account_id=?",
                (RANK[cur["action"]], by, why, now, account),
            )
            self._x(
                "INSERT INTO history(account_id, action, status, alert_id, at, ts, note) VALUES (?,?,?,?,?,?,?)",
                (account, cur["action"], "undone", cur["alert_id"], now, cur["ts"], f"undone by {by}: {why}"),
            )
            record = {
                "account_id": account,
                "action": "none",
                "status": "undone",
                "undone_action": cur["action"],
                "by": by,
                "why": why,
                "decided_at": now,
                "idempotency_key": f"undo:{account}:{now}",
            }
            self._x("INSERT INTO outbox(key, payload) VALUES (?,?)", (account, orjson.dumps(record)))
            self.commit()
        except Exception:
            self.rollback()
            raise
        return record

    # -- outbox -------------------------------------------------------------------------------
    def unpublished(self, limit: int = 1000) -> list[tuple[int, str, bytes]]:
        return self._x("SELECT id, key, payload FROM outbox WHERE published=0 ORDER BY id LIMIT ?", (limit,)).fetchall()

    def mark_published(self, ids: list[int]) -> None:
        for i in ids:
            self._x("UPDATE outbox SET published=1 WHERE id=?", (i,))

    def undelivered(self, now: float, limit: int = 100) -> list[tuple[int, bytes, int]]:
        return self._x(
            "SELECT id, payload, attempts FROM outbox WHERE delivered=0 AND next_attempt<=? ORDER BY id LIMIT ?",
            (now, limit),
        ).fetchall()

    def mark_delivered(self, oid: int) -> None:
        self._x("UPDATE outbox SET delivered=1 WHERE id=?", (oid,))

    def retry_later(self, oid: int, attempts: int, at: float) -> None:
        self._x("UPDATE outbox SET attempts=?, next_attempt=? WHERE id=?", (attempts, at, oid))
