"""Per-cluster model: aggregates of member summaries, evidence scoring, cluster anomaly model.

A cluster's state holds each member's latest summary and running sums over them, so that a
member joining, leaving or reporting again costs O(1), whatever the cluster's size. Features:
member count, account-creation burst, aggregate volume, cross-account template overlap, share of
reasoning-elicitation and single-turn requests, share of young accounts, synchronised activity
(members active in the same hours) and the members' own scores. The shared anomaly model is
River's ``HalfSpaceTrees`` over standardised cluster features.

>>> from models.config import ClusterSettings
>>> m = ClusterModel(ClusterSettings())
>>> st = ClusterState()
>>> for i in range(25):
...     m.apply(st, MemberSummary(f"a{i}", n=50, elicit=0.9, rubric=0.2, single=1.0,
...             created_ts=1000.0 + i, first_ts=2000.0, last_ts=9000.0, tpl=7, score=55.0,
...             hours=0xFFFFFF))
>>> score, reasons = m.score_one(st, now=9000.0)
>>> score > 85, reasons[0].feature in {"template_overlap", "reasoning_elicitation_share"}
(True, True)
"""

from __future__ import annotations

import math
from typing import Any

from river import preprocessing

from models.account import Reason, SubjectAlertState
from models.config import ClusterSettings
from models.population import FusedHalfSpaceTrees
from models.scoring import clip, squash


class MemberSummary:
    """What the account stage tells the cluster stage about one member (no prompt text)."""

    __slots__ = (
        "account",
        "created_ts",
        "elicit",
        "first_ts",
        "hours",
        "last_ts",
        "n",
        "org",
        "rubric",
        "score",
        "single",
        "tpl",
    )

    def __init__(
        self,
        account: str,
        n: int,
        elicit: float,
        rubric: float,
        single: float,
        created_ts: float,
        first_ts: float,
        last_ts: float,
        tpl: int,
        score: float,
        hours: int = 0,
        org: str | None = None,
    ) -> None:
        self.account = account
        self.n = n
        self.elicit = elicit
        self.rubric = rubric
        self.single = single
        self.created_ts = created_ts
        self.first_ts = first_ts
        self.last_ts = last_ts
        self.tpl = tpl
        self.score = score
        self.hours = hours  # bit mask of active absolute hours, bit 0 = hour of last_ts
        self.org = org

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MemberSummary:
        return cls(**{k: d[k] for k in cls.__slots__ if k in d})  # "org" may be absent (older producers)


class ClusterState(SubjectAlertState):
    __slots__ = (
        "burst_best",
        "bursts",
        "hour_counts",
        "last_eval_ts",
        "max_last",
        "members",
        "min_first",
        "sums",
        "tpl_counts",
    )

    def __init__(self) -> None:
        super().__init__()
        self.members: dict[str, MemberSummary] = {}
        # n, elicit, rubric, single, score, n_created, created_ts, members sharing a template
        self.sums = [0.0] * 8
        self.tpl_counts: dict[int, int] = {}
        self.bursts: dict[int, int] = {}  # creation bucket -> members
        self.hour_counts: dict[int, int] = {}  # absolute hour -> members active in it
        self.min_first = math.inf
        self.max_last = 0.0
        self.last_eval_ts = -math.inf
        # the largest member count of two neighbouring creation buckets; -1: not known
        self.burst_best = -1

    def __getstate__(self) -> tuple[Any, ...]:
        return tuple(getattr(self, k) for k in _FIELDS)

    def __setstate__(self, st: tuple[Any, ...]) -> None:
        self.burst_best = -1  # absent from states pickled before it existed
        for k, v in zip(_FIELDS[: len(st)], st, strict=True):
            setattr(self, k, v)


# New fields go at the end: states pickled before them still load.
_NEW_FIELDS = ("burst_best",)
_FIELDS = (
    *SubjectAlertState.__slots__,
    *(f for f in ClusterState.__slots__ if f not in _NEW_FIELDS),
    *_NEW_FIELDS,
)


def _hours(m: MemberSummary) -> list[int]:
    base = int(m.last_ts // 3600)
    mask = m.hours & 0xFFFFFF
    out = []
    i = 0
    while mask:
        if mask & 1:
            out.append(base - i)
        mask >>= 1
        i += 1
    return out


class ClusterModel:
    def __init__(self, settings: ClusterSettings) -> None:
        self.s = settings
        self.scaler = preprocessing.StandardScaler()
        self.hst = FusedHalfSpaceTrees(n_trees=10, height=6, window_size=100, seed=11)

    def _bucket(self, created_ts: float) -> int:
        return int(created_ts // (self.s.burst_window_days * 43200.0))

    def _add(self, st: ClusterState, m: MemberSummary, sign: int, bursts: bool = True) -> None:
        s = st.sums
        s[0] += sign * m.n
        s[1] += sign * m.elicit
        s[2] += sign * m.rubric
        s[3] += sign * m.single
        s[4] += sign * m.score
        if m.created_ts >= 0:
            s[5] += sign
            s[6] += sign * m.created_ts
            if bursts:
                b = self._bucket(m.created_ts)
                st.bursts[b] = st.bursts.get(b, 0) + sign
                if st.bursts[b] <= 0:
                    del st.bursts[b]
                st.burst_best = -1
        if m.tpl:
            old = st.tpl_counts.get(m.tpl, 0)
            c = old + sign
            if c > 0:
                st.tpl_counts[m.tpl] = c
            else:
                st.tpl_counts.pop(m.tpl, None)
            # members whose main template 3+ members share, kept up to date incrementally
            st.sums[7] += (c if c >= 3 else 0) - (old if old >= 3 else 0)
        hc = st.hour_counts
        for h in _hours(m):
            c = hc.get(h, 0) + sign
            if c > 0:
                hc[h] = c
            else:
                hc.pop(h, None)

    def apply(self, st: ClusterState, m: MemberSummary) -> None:
        """Add or refresh one member's summary."""
        old = st.members.get(m.account)
        # A member reporting again from the same creation bucket leaves the bursts as they are.
        bursts = (
            old is None
            or old.created_ts < 0
            or m.created_ts < 0
            or self._bucket(old.created_ts) != self._bucket(m.created_ts)
        )
        if old is not None:
            self._add(st, old, -1, bursts)
        st.members[m.account] = m
        self._add(st, m, +1, bursts)
        st.min_first = min(st.min_first, m.first_ts)
        st.max_last = max(st.max_last, m.last_ts)
        if len(st.hour_counts) > 72:  # keep the last three days of hours
            cut = int(st.max_last // 3600) - 72
            for h in [h for h in st.hour_counts if h < cut]:
                del st.hour_counts[h]

    def remove(self, st: ClusterState, account: str) -> None:
        old = st.members.pop(account, None)
        if old is not None:
            self._add(st, old, -1)

    def features(self, st: ClusterState, now: float) -> dict[str, float]:
        m = len(st.members)
        s = st.sums
        n_created = s[5]
        if n_created > 0 and st.bursts:
            best = st.burst_best
            if best < 0:
                best = st.burst_best = max(c + st.bursts.get(b + 1, 0) for b, c in st.bursts.items())
            burst = best / n_created
            mean_created = s[6] / n_created
            young = clip(1.0 - (now - mean_created) / 86400.0 / 30.0)
        else:
            burst = young = 0.0
        overlap = s[7] / m if m else 0.0
        span_h = max((st.max_last - st.min_first) / 3600.0, 1.0)
        # Synchronised activity: in the hours the cluster was active, the mean share of members
        # active in the same hour.
        hc = st.hour_counts
        sync = (sum(hc.values()) / len(hc) / m) if hc and m else 0.0
        return {
            "members": float(m),
            "creation_burst": burst,
            "young": young,
            "template_overlap": overlap,
            "elicit": s[1] / m if m else 0.0,
            "rubric": s[2] / m if m else 0.0,
            "single": s[3] / m if m else 0.0,
            "member_score": s[4] / m if m else 0.0,
            "rate": s[0] / span_h,
            "sync": sync,
        }

    def score_one(self, st: ClusterState, now: float) -> tuple[float, list[Reason]]:
        cs = self.s
        f = self.features(st, now)
        m = f["members"]
        if m < cs.min_members:
            return 0.0, []
        size_e = clip(math.log(m / (cs.min_members - 0.5)) / math.log(cs.full_size / (cs.min_members - 0.5)))
        ev = [
            ("cluster_members", m, size_e, cs.w_size, "accounts linked by shared rare attributes"),
            # A "burst" of three sign-ups is no evidence: scale by the size evidence.
            (
                "creation_burst",
                f["creation_burst"],
                clip((f["creation_burst"] - 0.5) / 0.4) * size_e,
                cs.w_burst,
                f"share of members created within {cs.burst_window_days:g} days",
            ),
            (
                "template_overlap",
                f["template_overlap"],
                clip((f["template_overlap"] - 0.3) / 0.5),
                cs.w_template_overlap,
                "share of members whose main template 3+ members share",
            ),
            ("reasoning_elicitation_share", f["elicit"], clip((f["elicit"] - 0.1) / 0.5), cs.w_elicit, ""),
            ("rubric_grading_share", f["rubric"], clip((f["rubric"] - 0.05) / 0.3), cs.w_elicit / 2, ""),
            ("single_turn_share", f["single"], clip((f["single"] - 0.6) / 0.35), cs.w_single_turn, ""),
            ("young_accounts", f["young"], f["young"], cs.w_young, "1 = created today, 0 = 30+ days"),
            ("mean_member_score", f["member_score"], clip((f["member_score"] - 20.0) / 40.0), cs.w_member_score, ""),
            (
                "aggregate_requests_per_hour",
                f["rate"],
                clip(math.log10(max(f["rate"], 1e-9) / 50.0) / 2.0),
                cs.w_volume,
                "",
            ),
            (
                "synchronised_activity",
                f["sync"],
                clip((f["sync"] - 0.5) / 0.4),
                cs.w_volume,
                "mean share of members active in the same hour",
            ),
        ]
        total = 0.0
        reasons: list[Reason] = []
        baselines = {"cluster_members": 1.0, "single_turn_share": None}
        for name, value, e, w, detail in ev:
            pts = e * w
            if pts > 0:
                total += pts
                reasons.append(Reason(name, value, baselines.get(name), pts, detail))
        reasons.sort(key=lambda r: -r.points)
        return min(total, 100.0), reasons

    def learn_population(self, st: ClusterState, now: float) -> float:
        """Anomaly of this cluster among clusters (0..1), then learn it."""
        f = self.features(st, now)
        x = {k: (math.log1p(v) if k in ("members", "rate") else v) for k, v in f.items()}
        self.scaler.learn_one(x)
        z = self.scaler.transform_one(x)
        u = squash(z)
        score = self.hst.score_learn_one(u)  # 0 until the model has learnt a first window
        return float(score)
