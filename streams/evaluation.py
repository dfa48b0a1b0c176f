"""Scores a run against labels: account precision/recall, benign flag rate, per-campaign timing.

Fed online, in the order the pipeline sees things, so that "requests made before the account was
first alerted" is exact.

>>> ev = Evaluator({"a": "c1"})
>>> ev.observe_event("a", 1.0); ev.observe_event("b", 1.0)
>>> ev.observe_alert({"accounts": ["a"], "severity": "high", "ts": 2.0, "recommended_action": "verify"})
>>> ev.observe_event("a", 3.0)
>>> m = ev.metrics()
>>> m["campaign_recall"], m["campaigns"]["c1"]["share_requests_before_alert"], m["benign_flagged_count"]
(1.0, 0.5, 0)
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

RANKS = {"low": 1, "medium": 2, "high": 3, "critical": 4}


def load_labels(path: str | Path) -> dict[str, str]:
    """Read a labels file (JSON Lines of account_id, campaign_id); errors name the line."""
    out: dict[str, str] = {}
    with open(path, "rb") as fh:
        for i, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                d = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise ValueError(f"{path}:{i}: malformed JSON: {exc}") from None
            if (
                not isinstance(d, dict)
                or not isinstance(d.get("account_id"), str)
                or not isinstance(d.get("campaign_id"), str)
            ):
                raise ValueError(f"{path}:{i}: a label needs string account_id and campaign_id")
            out[d["account_id"]] = d["campaign_id"]
    return out


class Evaluator:
    def __init__(self, labels: dict[str, str], min_severity: str = "medium") -> None:
        self.labels = labels
        self.min_rank = RANKS[min_severity]
        self.seen: set[str] = set()
        self.first_alert: dict[str, float] = {}  # account -> ts of first alert at min severity
        self.suspended: set[str] = set()
        self.any_alert: set[str] = set()
        self.camp_total: dict[str, int] = {}
        self.camp_before: dict[str, int] = {}
        self.camp_first_event: dict[str, float] = {}
        self.camp_first_alert: dict[str, float] = {}
        self.max_score: dict[str, float] = {}

    def observe_event(self, account: str, ts: float) -> None:
        self.seen.add(account)
        camp = self.labels.get(account)
        if camp is None:
            return
        self.camp_total[camp] = self.camp_total.get(camp, 0) + 1
        if account not in self.first_alert:
            self.camp_before[camp] = self.camp_before.get(camp, 0) + 1
        if camp not in self.camp_first_event:
            self.camp_first_event[camp] = ts

    def observe_alert(self, alert: dict[str, Any]) -> None:
        rank = RANKS.get(alert["severity"], 0)
        ts = float(alert["ts"])
        score = float(alert.get("score", 0.0))
        for acct in alert["accounts"]:
            self.any_alert.add(acct)
            if score > self.max_score.get(acct, -1.0):
                self.max_score[acct] = score
            if rank >= self.min_rank and acct not in self.first_alert:
                self.first_alert[acct] = ts
                camp = self.labels.get(acct)
                if camp is not None and camp not in self.camp_first_alert:
                    self.camp_first_alert[camp] = ts
            if alert.get("recommended_action") == "suspend":
                self.suspended.add(acct)

    def observe_alerts(self, alerts: Iterable[dict[str, Any]]) -> None:
        for a in alerts:
            self.observe_alert(a)

    def metrics(self) -> dict[str, Any]:
        seen = self.seen
        campaign_accounts = {a for a in seen if a in self.labels}
        benign = seen - campaign_accounts
        flagged = set(self.first_alert)
        tp = len(flagged & campaign_accounts)
        fp_accounts = sorted(flagged & benign)
        camps: dict[str, Any] = {}
        for camp in sorted(set(self.labels.values())):
            members = [a for a in campaign_accounts if self.labels[a] == camp]
            if not members:
                continue
            total = self.camp_total.get(camp, 0)
            first_alert = self.camp_first_alert.get(camp)
            first_event = self.camp_first_event.get(camp)
            camps[camp] = {
                "accounts": len(members),
                "accounts_alerted": sum(1 for a in members if a in flagged),
                "detected": first_alert is not None,
                "requests": total,
                "share_requests_before_alert": (self.camp_before.get(camp, 0) / total) if total else None,
                "time_to_first_alert_s": (first_alert - first_event)
                if first_alert is not None and first_event is not None
                else None,
            }
        shares = [
            c["share_requests_before_alert"] for c in camps.values() if c["share_requests_before_alert"] is not None
        ]
        return {
            "accounts_seen": len(seen),
            "campaign_accounts": len(campaign_accounts),
            "benign_accounts": len(benign),
            "alerted_accounts": len(flagged),
            "campaign_precision": tp / len(flagged) if flagged else None,
            "campaign_recall": tp / len(campaign_accounts) if campaign_accounts else None,
            "benign_flagged_share": len(fp_accounts) / len(benign) if benign else 0.0,
            "benign_flagged_count": len(fp_accounts),
            "benign_flagged": fp_accounts[:50],  # the first 50, for a look
            "benign_suspended": sorted(self.suspended & benign)[:50],
            "benign_suspended_count": len(self.suspended & benign),
            "campaigns_detected": sum(1 for c in camps.values() if c["detected"]),
            "campaigns": camps,
            "median_share_before_alert": statistics.median(shares) if shares else None,
            "min_severity": next(k for k, v in RANKS.items() if v == self.min_rank),
        }
