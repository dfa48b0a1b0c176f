"""Per-account model: compact online statistics, evidence scoring, population anomaly model.

Each account keeps exponentially weighted statistics of its requests (the update rule of
``river.stats.EWMean`` and ``river.stats.EWVar``, with ``fading_factor`` as the weight of the
newest value) in one ``array('d')`` rather than one River object per statistic: a River
statistic costs about 160 bytes, and a dozen of them would break the 1 KiB budget per account.
The shared population model is River's: a ``StandardScaler`` into ``HalfSpaceTrees``, learnt
and scored on account summaries (every ``summary_every`` events), not on every event.

>>> from models.config import AccountSettings
>>> from models.features import RequestFeatures
>>> model = AccountModel(AccountSettings())
>>> state = AccountState(created_ts=0.0)
>>> f = RequestFeatures.__new__(RequestFeatures)
>>> f.elicit, f.rubric, f.single_turn, f.log_in, f.log_out = True, False, True, 5.0, 6.5
>>> f.tpl_head, f.tpl_tail, f.links = 42, 0, ()
>>> for i in range(30):
...     _ = model.learn_one(state, f, ts=60.0 * i)
>>> round(state.ew[E_ELICIT], 3)
1.0
>>> score, reasons = model.score_one(state)
>>> score > 40, reasons[0].feature
(True, 'reasoning_elicitation_rate')
"""

from __future__ import annotations

import math
import zlib
from array import array
from typing import Any

from river import anomaly, preprocessing

from models.config import AccountSettings
from models.features import RequestFeatures

# Indices into AccountState.ew
E_ELICIT, E_RUBRIC, E_SINGLE, E_REUSE, E_LOGOUT, E_DT, E_DTVAR, E_ELICIT_SLOW, E_LOGIN = range(9)
_NE = 9
_NAN = float("nan")
_TPL_K = 6  # heavy-hitter templates kept per account
_LINK_SLOTS = {"payment": 0, "system_prompt": 2, "ip24": 4, "ip48": 4, "asn_ua": 6}
_SLOW = 0.005  # fading of the long-memory elicitation rate (own-history baseline)


class Reason:
    """One explained piece of evidence: feature, value, baseline, points contributed."""

    __slots__ = ("baseline", "detail", "feature", "points", "value")

    def __init__(
        self, feature: str, value: float | str, baseline: float | str | None, points: float,
        detail: str = "",
    ) -> None:
        self.feature = feature
        self.value = value
        self.baseline = baseline
        self.points = points
        self.detail = detail

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "feature": self.feature,
            "value": round(self.value, 4) if isinstance(self.value, float) else self.value,
            "baseline": round(self.baseline, 4) if isinstance(self.baseline, float) else self.baseline,
            "points": round(self.points, 2),
        }
        if self.detail:
            out["detail"] = self.detail
        return out

    def __repr__(self) -> str:
        return f"Reason({self.feature}={self.value!r}, +{self.points:.1f})"


class SubjectAlertState:
    """Alert-policy memory of one subject (account or cluster): band, sequence, last alert."""

    __slots__ = ("alert_seq", "band", "last_alert_ts", "last_alert_members")

    def __init__(self) -> None:
        self.band = 0
        self.alert_seq = 0
        self.last_alert_ts = -1.0
        self.last_alert_members = 0


class AccountState(SubjectAlertState):
    """State of one account. Picklable and small (see ``bench/account_memory.py``)."""

    __slots__ = (
        "anomaly",
        "cluster",
        "created_ts",
        "ew",
        "first_ts",
        "hour_base",
        "hour_mask",
        "last_ts",
        "links",
        "n",
        "recent_ids",
        "score",
        "summary_n",
        "tpl",
    )

    def __init__(self, created_ts: float | None = None) -> None:
        super().__init__()
        self.n = 0
        self.first_ts = 0.0
        self.last_ts = 0.0
        self.created_ts = -1.0 if created_ts is None else created_ts
        self.ew = array("d", [_NAN] * _NE)
        self.hour_mask = 0  # bit i: active in absolute hour hour_base - i
        self.hour_base = 0
        self.tpl = array("Q", [0] * (2 * _TPL_K))  # template fingerprints, then their counts
        self.links = array("Q", [0] * 8)  # two most recent values per link slot
        self.recent_ids = array("I", [0] * 8)  # crc32 of recent event ids (duplicate drop)
        self.score = 0.0
        self.anomaly = 0.0
        self.summary_n = 0
        self.cluster: str | None = None

    def __getstate__(self) -> tuple[Any, ...]:
        return tuple(getattr(self, k) for k in _STATE_FIELDS)

    def __setstate__(self, st: tuple[Any, ...]) -> None:
        for k, v in zip(_STATE_FIELDS, st, strict=True):
            setattr(self, k, v)

    def seen_event(self, event_id: str) -> bool:
        """True if this id was among the account's recent events; remembers it otherwise."""
        h = zlib.crc32(event_id.encode("utf-8", "surrogatepass")) or 1
        ids = self.recent_ids
        if h in ids:
            return True
        ids[self.n % 8] = h
        return False

    def active_hours_24(self) -> int:
        return (self.hour_mask & 0xFFFFFF).bit_count()

    def top_template(self) -> int:
        tpl = self.tpl
        best, best_c = 0, 0
        for i in range(_TPL_K):
            c = tpl[_TPL_K + i]
            if c > best_c:
                best, best_c = tpl[i], c
        return best


_STATE_FIELDS = tuple(SubjectAlertState.__slots__) + tuple(AccountState.__slots__)


def _ew(ew: array, i: int, x: float, a: float) -> None:
    m = ew[i]
    ew[i] = x if m != m else m + a * (x - m)  # m != m: NaN, first value


def _clip(x: float) -> float:
    return 0.0 if x <= 0.0 else 1.0 if x >= 1.0 else x


def _get(v: float, default: float = 0.0) -> float:
    return default if v != v else v


class AccountModel:
    """Learns account states from request features and scores them with explained evidence.

    ``learn_one`` updates an account's state with one request and returns the link attributes
    that the account shows for the first time (for the linker). ``score_one`` gives 0..100 and
    the reasons behind it. ``learn_population`` feeds an account summary to the shared anomaly
    model.
    """

    def __init__(self, settings: AccountSettings) -> None:
        self.s = settings
        self.scaler = preprocessing.StandardScaler()
        self.hst = anomaly.HalfSpaceTrees(
            n_trees=settings.hst_trees, height=settings.hst_height, window_size=settings.hst_window,
            seed=7,
        )
        self.pop_seen = 0
        # Population baselines for the reasons (EW means over account summaries).
        self.baseline = dict.fromkeys(_BASELINE_KEYS, 0.0)

    # -- learning -----------------------------------------------------------------------------
    def learn_one(self, st: AccountState, f: RequestFeatures, ts: float) -> list[tuple[str, int]]:
        a = self.s.fading
        ew = st.ew
        if st.n == 0:
            st.first_ts = ts
        else:
            dt = ts - st.last_ts
            if dt < 0.0:
                dt = 0.0
            m = ew[E_DT]
            if m != m:
                ew[E_DT] = dt
                ew[E_DTVAR] = 0.0
            else:
                # river.stats.EWVar: var <- (1-a) * (var + a * (x - mean)^2)
                d = dt - m
                ew[E_DT] = m + a * d
                ew[E_DTVAR] = (1.0 - a) * (ew[E_DTVAR] + a * d * d)
        if ts > st.last_ts:
            st.last_ts = ts
        st.n += 1
        _ew(ew, E_ELICIT, 1.0 if f.elicit else 0.0, a)
        _ew(ew, E_ELICIT_SLOW, 1.0 if f.elicit else 0.0, _SLOW)
        _ew(ew, E_RUBRIC, 1.0 if f.rubric else 0.0, a)
        if f.single_turn is not None:
            _ew(ew, E_SINGLE, 1.0 if f.single_turn else 0.0, a)
        _ew(ew, E_LOGOUT, f.log_out, a)
        _ew(ew, E_LOGIN, f.log_in, a)

        hour = int(ts // 3600.0)
        shift = hour - st.hour_base
        if shift > 0:
            st.hour_mask = ((st.hour_mask << shift) | 1) & 0xFFFFFFFFFFFF if shift < 48 else 1
            st.hour_base = hour
        elif shift > -48:
            st.hour_mask |= 1 << -shift

        links: list[tuple[str, int]] = []
        reused = False
        if f.tpl_head:
            reused, link = self._template(st, f.tpl_head)
            if link:
                links.append(("template", f.tpl_head))
        if f.tpl_tail:
            r2, link = self._template(st, f.tpl_tail)
            reused = reused or r2
            if link:
                links.append(("template", f.tpl_tail))
        _ew(ew, E_REUSE, 1.0 if reused else 0.0, a)

        slots = st.links
        for kind, value in f.links:
            i = _LINK_SLOTS[kind]
            if slots[i] != value and slots[i + 1] != value:
                slots[i + 1] = slots[i]
                slots[i] = value
                links.append((kind, value))
        return links

    def _template(self, st: AccountState, fp: int) -> tuple[bool, bool]:
        """Count one use of a template; (was it seen before, has it just become systematic)."""
        tpl = st.tpl
        k = _TPL_K
        lo_i, lo_c = 0, 1 << 62
        for i in range(k):
            if tpl[i] == fp:
                c = tpl[k + i] + 1
                tpl[k + i] = c
                return True, c == self.s.template_systematic_uses
            c = tpl[k + i]
            if c < lo_c:
                lo_i, lo_c = i, c
        # Replace the least used entry; decay the others so stale templates can leave.
        tpl[lo_i] = fp
        tpl[k + lo_i] = 1
        if lo_c > 1:
            for i in range(k):
                if i != lo_i and tpl[k + i] > 1:
                    tpl[k + i] -= 1
        return False, self.s.template_systematic_uses <= 1

    # -- scoring ------------------------------------------------------------------------------
    def evidence(self, st: AccountState) -> list[tuple[str, float, float, float, str]]:
        """(feature, value, evidence 0..1, weight, detail) for each behaviour the score uses."""
        s = self.s
        ew = st.ew
        out: list[tuple[str, float, float, float, str]] = []
        elicit = _get(ew[E_ELICIT])
        out.append(("reasoning_elicitation_rate", elicit, _clip((elicit - 0.1) / 0.5), s.w_elicit, ""))
        rubric = _get(ew[E_RUBRIC])
        out.append(("rubric_grading_rate", rubric, _clip((rubric - 0.05) / 0.3), s.w_rubric, ""))
        single = ew[E_SINGLE]
        if single == single:
            out.append(("single_turn_share", single, _clip((single - 0.6) / 0.35), s.w_single_turn, ""))
        reuse = _get(ew[E_REUSE])
        out.append(("template_reuse_rate", reuse, _clip((reuse - 0.3) / 0.5), s.w_template_reuse, ""))
        logout = _get(ew[E_LOGOUT])
        out.append(("mean_output_tokens", math.expm1(logout), _clip((logout - 5.0) / 1.4),
                    s.w_long_output, ""))
        if st.n >= 10:
            mean_dt = ew[E_DT]
            cv = math.sqrt(max(ew[E_DTVAR], 0.0)) / mean_dt if mean_dt > 0 else 0.0
            out.append(("interarrival_cv", cv, _clip((1.2 - cv) / 0.8), s.w_regular_timing,
                        "low values mean machine-regular pacing"))
        if st.created_ts >= 0:
            age = max(st.last_ts - st.created_ts, 0.0) / 86400.0
            young = _clip(1.0 - age / s.young_days) if s.young_days > 0 else 0.0
            out.append(("account_age_days", age, young, s.w_young, ""))
        hours = st.active_hours_24()
        out.append(("active_hours_last_24h", float(hours), _clip((hours - 12) / 8), s.w_round_the_clock,
                    ""))
        span_h = max((st.last_ts - st.first_ts) / 3600.0, 1.0)
        rate = st.n / span_h
        out.append(("requests_per_hour", rate, _clip(math.log10(max(rate, 1e-9) / 3.0)), s.w_volume, ""))
        if st.n >= 100:
            slow = _get(ew[E_ELICIT_SLOW])
            out.append(("elicitation_shift", elicit - slow, _clip((elicit - slow - 0.2) / 0.4),
                        s.w_elicit / 2, "rise over the account's own long-run rate"))
        return out

    def _anomaly_points(self, anomaly_score: float) -> float:
        if anomaly_score <= 0.5 or self.s.anomaly_weight <= 0.0:
            return 0.0
        return self.s.anomaly_weight * _clip((anomaly_score - 0.5) / 0.4)

    def score_value(self, st: AccountState) -> float:
        """The score alone (what ``score_one`` gives, without building reasons)."""
        total = sum(e * w for _, _, e, w, _ in self.evidence(st)) + self._anomaly_points(st.anomaly)
        return min(total, 100.0)

    def score_one(self, st: AccountState) -> tuple[float, list[Reason]]:
        """Score 0..100 with reasons sorted by contribution."""
        anomaly_score = st.anomaly
        reasons: list[Reason] = []
        total = 0.0
        for name, value, e, w, detail in self.evidence(st):
            pts = e * w
            if pts > 0.0:
                total += pts
                reasons.append(Reason(name, value, self.baseline.get(name), pts, detail))
        pts = self._anomaly_points(anomaly_score)
        if pts > 0.0:
            total += pts
            reasons.append(Reason("population_anomaly", anomaly_score, 0.5, pts,
                                  "HalfSpaceTrees over standardised account features"))
        reasons.sort(key=lambda r: -r.points)
        return min(total, 100.0), reasons

    # -- population ---------------------------------------------------------------------------
    def summary_features(self, st: AccountState) -> dict[str, float]:
        ew = st.ew
        span_h = max((st.last_ts - st.first_ts) / 3600.0, 1.0)
        return {
            "elicit": _get(ew[E_ELICIT]),
            "rubric": _get(ew[E_RUBRIC]),
            "single": _get(ew[E_SINGLE], 0.5),
            "reuse": _get(ew[E_REUSE]),
            "logout": _get(ew[E_LOGOUT]),
            "login": _get(ew[E_LOGIN]),
            "lograte": math.log1p(st.n / span_h),
            "hours": float(st.active_hours_24()),
        }

    def learn_population(self, st: AccountState) -> float:
        """Score then learn one account summary in the population model; anomaly in 0..1."""
        x = self.summary_features(st)
        self.scaler.learn_one(x)
        z = self.scaler.transform_one(x)
        # Squash standardised values into [0, 1], the input range HalfSpaceTrees expects.
        u = {k: 1.0 / (1.0 + math.exp(-max(min(v, 30.0), -30.0))) for k, v in z.items()}
        score = self.hst.score_one(u) if self.pop_seen >= self.s.hst_window else 0.0
        self.hst.learn_one(u)
        self.pop_seen += 1
        b = self.baseline
        a = 0.01
        ew = st.ew
        span_h = max((st.last_ts - st.first_ts) / 3600.0, 1.0)
        for key, v in (
            ("reasoning_elicitation_rate", _get(ew[E_ELICIT])),
            ("rubric_grading_rate", _get(ew[E_RUBRIC])),
            ("single_turn_share", _get(ew[E_SINGLE], 0.5)),
            ("template_reuse_rate", _get(ew[E_REUSE])),
            ("mean_output_tokens", math.expm1(_get(ew[E_LOGOUT]))),
            ("active_hours_last_24h", float(st.active_hours_24())),
            ("requests_per_hour", st.n / span_h),
        ):
            b[key] += a * (v - b[key]) if self.pop_seen > 1 else v - b[key]
        return float(score)


_BASELINE_KEYS = (
    "reasoning_elicitation_rate",
    "rubric_grading_rate",
    "single_turn_share",
    "template_reuse_rate",
    "mean_output_tokens",
    "active_hours_last_24h",
    "requests_per_hour",
)
