"""Alert policy: score to severity band with hysteresis, cool-down, deterministic ``alert_id``.

An alert is emitted when a subject's band rises, when a flagged cluster gains members (at most
every ``member_update_s`` of event time) and, for a band that holds, again after ``cooldown_s``.
A band is left only when the score falls ``hysteresis`` points below its threshold; leaving a
band emits nothing. ``alert_id`` hashes the configuration, the subject and the subject's alert
sequence number, so a replay of the same input with the same settings gives the same ids.

>>> from models.config import PolicySettings
>>> from models.account import Reason, SubjectAlertState
>>> p = AlertPolicy(PolicySettings(), config_hash="abc")
>>> st = SubjectAlertState()
>>> r = [Reason("reasoning_elicitation_rate", 0.9, 0.05, 22.0)]
>>> a = p.decide(st, "account", "acct-1", ["acct-1"], 60.0, r, ts=100.0)
>>> a["severity"], a["recommended_action"]
('medium', 'verify')
>>> p.decide(st, "account", "acct-1", ["acct-1"], 61.0, r, ts=101.0) is None
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from typing import Any, Protocol

from models.account import Reason
from models.config import PolicySettings

SEVERITIES = ("none", "low", "medium", "high", "critical")
_ACTIONS = {
    "account": ("observe", "observe", "verify", "verify", "verify"),
    "cluster": ("observe", "observe", "throttle", "verify", "suspend"),
}


class AlertMemory(Protocol):
    """What the policy remembers per subject (``SubjectAlertState``, ``AccountState``)."""

    band: int
    alert_seq: int
    last_alert_ts: float
    last_alert_members: int


def alert_id(config_hash: str, subject_type: str, subject_id: str, seq: int) -> str:
    raw = f"{config_hash}|{subject_type}|{subject_id}|{seq}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(raw).hexdigest()[:32]


class AlertPolicy:
    """Turns scores into alerts. Stateless itself: memory lives in each subject's state."""

    def __init__(self, settings: PolicySettings, config_hash: str) -> None:
        self.s = settings
        self.config_hash = config_hash
        self.thresholds = (0.0, settings.low, settings.medium, settings.high, settings.critical)

    def band_of(self, score: float) -> int:
        t = self.thresholds
        for b in (4, 3, 2, 1):
            if score >= t[b]:
                return b
        return 0

    def decide(
        self,
        st: AlertMemory,
        subject_type: str,
        subject_id: str,
        accounts: Collection[str],
        score: float,
        reasons: list[Reason],
        ts: float,
        emitted_at: float | None = None,
    ) -> dict[str, Any] | None:
        """Update the subject's band; return an alert dict when one is due, else None.

        ``accounts`` (the subject's accounts, e.g. a cluster's member dict) is only counted
        unless an alert is emitted, which lists them sorted.
        """
        s = self.s
        if subject_type == "account":
            score = min(score, s.account_max_score)
        band = self.band_of(score)
        cur = st.band
        due = False
        if band > cur:
            st.band = cur = band
            due = True
        elif band < cur:
            # Hysteresis: hold the band until the score is clearly below it.
            if score < self.thresholds[cur] - s.hysteresis:
                st.band = cur = band
            return None
        elif cur > 0:
            since = ts - st.last_alert_ts
            grew = len(accounts) > st.last_alert_members
            if (grew and cur >= 2 and since >= s.member_update_s) or since >= s.cooldown_s:
                due = True
        if not due or cur == 0 or not reasons:
            return None
        st.alert_seq += 1
        st.last_alert_ts = ts
        st.last_alert_members = len(accounts)
        alert: dict[str, Any] = {
            "alert_id": alert_id(self.config_hash, subject_type, subject_id, st.alert_seq),
            "ts": ts,
            "subject_type": subject_type,
            "subject_id": subject_id,
            "accounts": sorted(accounts),
            "score": round(max(0.0, min(score, 100.0)), 2),
            "severity": SEVERITIES[cur],
            "reasons": [r.to_dict() for r in reasons[: s.top_reasons]],
            "recommended_action": _ACTIONS[subject_type][cur],
            "config_hash": self.config_hash,
            "seq": st.alert_seq,
        }
        if emitted_at is not None:
            alert["emitted_at"] = emitted_at
        return alert
