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
...     f.content = i
...     _ = model.learn_one(state, f, ts=60.0 * i)
>>> round(state.f[E_ELICIT], 3)
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

from river import preprocessing

from models.config import AccountSettings
from models.features import RequestFeatures
from models.population import FusedHalfSpaceTrees
from models.scoring import anomaly_points, clip, or_default, squash

# AccountState.f (float64): EW statistics, then times and scores
E_ELICIT, E_RUBRIC, E_SINGLE, E_REUSE, E_LOGOUT, E_DT, E_DTVAR, E_ELICIT_SLOW, E_LOGIN = range(9)
F_FIRST, F_LAST, F_CREATED, F_SCORE, F_ANOMALY, F_ALERT_TS = range(9, 15)
_NF = 15
# AccountState.q (uint64): two recent values per link slot, template fingerprints, hour mask
_TPL_K = 10  # templates kept per account
Q_LINKS, Q_TPL, Q_HOURS = 0, 8, 8 + _TPL_K
# Q_MSEQ: one past the link-log offset of the last membership change applied (0: none), so
# that a change the linker sends again after a restart is not applied twice
Q_MSEQ = Q_HOURS + 1
_NQ = Q_MSEQ + 1
# AccountState.u (uint32): recent event ids, template counts / content / last use, rotations,
# counters and alert-policy memory
U_IDS, U_CNT, U_CONTENT, U_LASTUSE, U_ROT = 0, 8, 8 + _TPL_K, 8 + 2 * _TPL_K, 8 + 3 * _TPL_K
# U_EMITTED: bit i set once template slot i has been reported to the linker as systematic
U_REUSED, U_HOUR_BASE, U_BAND, U_SEQ, U_MEMBERS, U_EMITTED = range(U_ROT + 4, U_ROT + 10)
_NU = U_EMITTED + 1
_NAN = float("nan")
_LINK_SLOTS = {"payment": 0, "system_prompt": 2, "ip24": 4, "ip48": 4, "asn_ua": 6}
_SLOW = 0.005  # fading of the long-memory elicitation rate (own-history baseline)


try:  # the same learning step in C (models/_accountkernel.c); Python if not built
    from models import _accountkernel as _kernel  # type: ignore[attr-defined]

    if _kernel.layout() != (_NF, _NQ, _NU, _TPL_K, Q_HOURS, U_ROT, U_EMITTED, U_HOUR_BASE):
        raise ImportError("models/_accountkernel.c does not match the state layout")
except ImportError:  # pragma: no cover - a build without a C compiler
    _kernel = None


class Reason:
    """One explained piece of evidence: feature, value, baseline, points contributed."""

    __slots__ = ("baseline", "detail", "feature", "points", "value")

    def __init__(
        self,
        feature: str,
        value: float | str,
        baseline: float | str | None,
        points: float,
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

    __slots__ = ("alert_seq", "band", "last_alert_members", "last_alert_ts")

    def __init__(self) -> None:
        self.band = 0
        self.alert_seq = 0
        self.last_alert_ts = -1.0
        self.last_alert_members = 0


_F0 = array("d", [_NAN] * _NF)
_F0[F_FIRST] = _F0[F_LAST] = _F0[F_SCORE] = _F0[F_ANOMALY] = 0.0
_F0[F_ALERT_TS] = _F0[F_CREATED] = -1.0
_Q0 = array("Q", bytes(8 * _NQ))
_U0 = array("I", bytes(4 * _NU))


class AccountState:
    """State of one account: three packed arrays (see the ``F_``, ``Q_``, ``U_`` indices).

    About 900 bytes in memory and 630 pickled (``bench/account_memory.py``). The alert-policy
    memory (``band``, ``alert_seq``, ...) is exposed as attributes, like ``SubjectAlertState``.
    """

    __slots__ = ("cluster", "f", "n", "org", "q", "u")

    def __init__(self, created_ts: float | None = None) -> None:
        self.n = 0
        self.f = f = _F0[:]  # copies of blank arrays: cheaper than building them
        if created_ts is not None:
            f[F_CREATED] = created_ts
        self.q = _Q0[:]
        self.u = _U0[:]
        self.cluster: str | None = None
        self.org: str | None = None  # the account's organisation (enforcement allowlists)

    def __getstate__(self) -> tuple[Any, ...]:
        return (self.n, self.f, self.q, self.u, self.cluster, self.org)

    def __setstate__(self, st: tuple[Any, ...]) -> None:
        self.n, self.f, self.q, self.u, self.cluster, self.org = st

    # Named views of the packed fields (for the colder paths and for readers).
    first_ts = property(lambda s: s.f[F_FIRST])
    last_ts = property(lambda s: s.f[F_LAST])
    created_ts = property(lambda s: s.f[F_CREATED], lambda s, v: s.f.__setitem__(F_CREATED, v))
    score = property(lambda s: s.f[F_SCORE], lambda s, v: s.f.__setitem__(F_SCORE, v))
    anomaly = property(lambda s: s.f[F_ANOMALY], lambda s, v: s.f.__setitem__(F_ANOMALY, v))
    last_alert_ts = property(lambda s: s.f[F_ALERT_TS], lambda s, v: s.f.__setitem__(F_ALERT_TS, v))
    band = property(lambda s: s.u[U_BAND], lambda s, v: s.u.__setitem__(U_BAND, v))
    alert_seq = property(lambda s: s.u[U_SEQ], lambda s, v: s.u.__setitem__(U_SEQ, v))
    last_alert_members = property(lambda s: s.u[U_MEMBERS], lambda s, v: s.u.__setitem__(U_MEMBERS, min(v, 0xFFFFFFFF)))
    reused = property(lambda s: s.u[U_REUSED])
    hour_mask = property(lambda s: s.q[Q_HOURS])
    membership_seq = property(lambda s: s.q[Q_MSEQ], lambda s, v: s.q.__setitem__(Q_MSEQ, v))

    def seen_event(self, event_id: str) -> bool:
        """True if this id was among the account's recent events; remembers it otherwise."""
        h = zlib.crc32(event_id.encode("utf-8", "surrogatepass")) or 1
        u = self.u
        if h in u[U_IDS : U_IDS + 8]:  # a C-speed scan of a small copy
            return True
        u[U_IDS + self.n % 8] = h
        return False

    def active_hours_24(self) -> int:
        return (self.q[Q_HOURS] & 0xFFFFFF).bit_count()

    def top_template(self) -> int:
        counts = self.u[U_CNT : U_CNT + _TPL_K]
        best = max(counts)
        return self.q[Q_TPL + counts.index(best)] if best else 0


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
        self.hst = FusedHalfSpaceTrees(
            n_trees=settings.hst_trees,
            height=settings.hst_height,
            window_size=settings.hst_window,
            seed=7,
        )
        s = settings
        self._kparams = (
            s.fading,
            s.template_driven_share,
            s.young_days,
            s.template_systematic_uses,
            s.max_rotations,
            _LINK_SLOTS,
            ("template_cot", "template", "template_seen"),
        )

    # -- learning -----------------------------------------------------------------------------
    def learn_one(self, st: AccountState, f: RequestFeatures, ts: float) -> list[tuple[str, int]]:
        """Update ``st`` with one request; the link attributes to report to the linker.

        Runs in C (``models/_accountkernel.c``) when it is built, else in Python
        (:meth:`_py_learn_one`, which defines what the step does).
        """
        if _kernel is None:
            return self._py_learn_one(st, f, ts)
        return _kernel.learn(st, f, ts, self._kparams)  # type: ignore[no-any-return]

    def _py_learn_one(self, st: AccountState, f: RequestFeatures, ts: float) -> list[tuple[str, int]]:
        a = self.s.fading
        ew = st.f
        if st.n == 0:
            ew[F_FIRST] = ts
        else:
            dt = ts - ew[F_LAST]
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
        if ts > ew[F_LAST]:
            ew[F_LAST] = ts
        st.n += 1
        # The EW means, inlined (this runs on every event): m != m is NaN, the first value.
        x = 1.0 if f.elicit else 0.0
        m = ew[E_ELICIT]
        ew[E_ELICIT] = x if m != m else m + a * (x - m)
        m = ew[E_ELICIT_SLOW]
        ew[E_ELICIT_SLOW] = x if m != m else m + _SLOW * (x - m)
        x = 1.0 if f.rubric else 0.0
        m = ew[E_RUBRIC]
        ew[E_RUBRIC] = x if m != m else m + a * (x - m)
        if f.single_turn is not None:
            x = 1.0 if f.single_turn else 0.0
            m = ew[E_SINGLE]
            ew[E_SINGLE] = x if m != m else m + a * (x - m)
        x = f.log_out
        m = ew[E_LOGOUT]
        ew[E_LOGOUT] = x if m != m else m + a * (x - m)
        x = f.log_in
        m = ew[E_LOGIN]
        ew[E_LOGIN] = x if m != m else m + a * (x - m)

        q, u = st.q, st.u
        hour = min(int(ts // 3600.0), 0xFFFFFFFF)  # the hour base is a uint32
        shift = hour - u[U_HOUR_BASE]
        if shift > 0:
            q[Q_HOURS] = ((q[Q_HOURS] << shift) | 1) & 0xFFFFFFFFFFFF if shift < 48 else 1
            u[U_HOUR_BASE] = hour
        elif shift > -48:
            q[Q_HOURS] |= 1 << -shift

        links: list[tuple[str, int]] = []
        reused = False
        for fp in (f.tpl_head, f.tpl_tail):
            if fp and self._template(st, fp, f.content):
                reused = True
        if reused:
            u[U_REUSED] += 1
        x = 1.0 if reused else 0.0
        m = ew[E_REUSE]
        ew[E_REUSE] = x if m != m else m + a * (x - m)
        # A template is systematic for an account that reuses templates for a good share of its
        # traffic (a template-driven account) and has used this one repeatedly; a person who
        # re-sends a popular prompt now and then is neither.
        driven = st.n >= 3 and u[U_REUSED] >= self.s.template_driven_share * (st.n - 1)
        created = ew[F_CREATED]
        young = created >= 0.0 and ts - created < self.s.young_days * 86400.0
        marked = f.elicit or f.rubric
        for fp in (f.tpl_head, f.tpl_tail):
            if not fp:
                continue
            if driven and self._mark_systematic(st, fp):
                # Templates that ask for reasoning or grading are the distiller's; unmarked ones
                # (public prompt templates too) link with less weight.
                links.append(("template_cot" if marked else "template", fp))
            elif young and marked and self._uses(st, fp) == 1:
                # A new account's first use of a template, in a request that asks for reasoning or
                # grading: the linker joins it only to a template that other accounts already use
                # systematically.
                links.append(("template_seen", fp))

        for kind, value in f.links:
            i = Q_LINKS + _LINK_SLOTS[kind]
            if q[i] != value and q[i + 1] != value:
                q[i + 1] = q[i]
                q[i] = value
                j = U_ROT + (i >> 1)
                # An attribute that keeps rotating (proxies) stops being reported: each new value
                # is shared with strangers at best, and would flood the linker.
                if u[j] < self.s.max_rotations:
                    u[j] += 1
                    links.append((kind, value))
        return links

    def _slot(self, st: AccountState, fp: int) -> int:
        q = st.q
        if fp not in q[Q_TPL : Q_TPL + _TPL_K]:  # a C-speed scan of a small copy
            return -1
        return q.index(fp, Q_TPL, Q_TPL + _TPL_K) - Q_TPL

    def _uses(self, st: AccountState, fp: int) -> int:
        i = self._slot(st, fp)
        return 0 if i < 0 else st.u[U_CNT + i]

    def _mark_systematic(self, st: AccountState, fp: int) -> bool:
        """True the first time a template with enough uses is reported as systematic."""
        i = self._slot(st, fp)
        if i < 0:
            return False
        u = st.u
        bit = 1 << i
        if u[U_EMITTED] & bit or u[U_CNT + i] < self.s.template_systematic_uses:
            return False
        u[U_EMITTED] |= bit
        return True

    def _template(self, st: AccountState, fp: int, content: int) -> bool:
        """Count one use of a template; True if the account used it before with other content.

        Sending the very same text again (a retry, a regenerate, a favourite prompt) is not
        template use: only a template filled differently counts. When the table is full, the
        least used entry goes, the least recently used among equals.
        """
        q, u = st.q, st.u
        n = st.n & 0xFFFFFFFF
        i = self._slot(st, fp)
        if i >= 0:
            u[U_LASTUSE + i] = n
            if u[U_CONTENT + i] == content:
                return False
            u[U_CONTENT + i] = content
            u[U_CNT + i] += 1
            return True
        counts = u[U_CNT : U_CNT + _TPL_K]
        least = min(counts)
        if counts.count(least) == 1:
            victim = counts.index(least)
        else:  # the least recently used among the least used (the first of equals)
            last = u[U_LASTUSE : U_LASTUSE + _TPL_K]
            victim = min((i for i in range(_TPL_K) if counts[i] == least), key=last.__getitem__)
        u[U_EMITTED] &= ~(1 << victim)
        q[Q_TPL + victim] = fp
        u[U_CNT + victim] = 1
        u[U_CONTENT + victim] = content
        u[U_LASTUSE + victim] = n
        return False

    # -- scoring ------------------------------------------------------------------------------
    def evidence(self, st: AccountState) -> list[tuple[str, float, float, float, str]]:
        """(feature, value, evidence 0..1, weight, detail) for each behaviour the score uses."""
        s = self.s
        ew = st.f
        out: list[tuple[str, float, float, float, str]] = []
        elicit = or_default(ew[E_ELICIT])
        out.append(("reasoning_elicitation_rate", elicit, clip((elicit - 0.1) / 0.5), s.w_elicit, ""))
        rubric = or_default(ew[E_RUBRIC])
        out.append(("rubric_grading_rate", rubric, clip((rubric - 0.05) / 0.3), s.w_rubric, ""))
        single = ew[E_SINGLE]
        if single == single:
            out.append(("single_turn_share", single, clip((single - 0.6) / 0.35), s.w_single_turn, ""))
        reuse = or_default(ew[E_REUSE])
        out.append(("template_reuse_rate", reuse, clip((reuse - 0.3) / 0.5), s.w_template_reuse, ""))
        logout = or_default(ew[E_LOGOUT])
        out.append(("mean_output_tokens", math.expm1(logout), clip((logout - 5.0) / 1.4), s.w_long_output, ""))
        if st.n >= 10:
            mean_dt = ew[E_DT]
            cv = math.sqrt(max(ew[E_DTVAR], 0.0)) / mean_dt if mean_dt > 0 else 0.0
            out.append(
                (
                    "interarrival_cv",
                    cv,
                    clip((1.2 - cv) / 0.8),
                    s.w_regular_timing,
                    "low values mean machine-regular pacing",
                )
            )
        if st.created_ts >= 0:
            age = max(st.last_ts - st.created_ts, 0.0) / 86400.0
            young = clip(1.0 - age / s.young_days) if s.young_days > 0 else 0.0
            out.append(("account_age_days", age, young, s.w_young, ""))
        hours = st.active_hours_24()
        out.append(("active_hours_last_24h", float(hours), clip((hours - 12) / 8), s.w_round_the_clock, ""))
        span_h = max((st.last_ts - st.first_ts) / 3600.0, 1.0)
        rate = st.n / span_h
        out.append(("requests_per_hour", rate, clip(math.log10(max(rate, 1e-9) / 3.0)), s.w_volume, ""))
        if st.n >= 100:
            slow = or_default(ew[E_ELICIT_SLOW])
            out.append(
                (
                    "elicitation_shift",
                    elicit - slow,
                    clip((elicit - slow - 0.2) / 0.4),
                    s.w_elicit / 2,
                    "rise over the account's own long-run rate",
                )
            )
        return out

    def score_value(self, st: AccountState) -> float:
        """The score alone (what ``score_one`` gives, without building reasons)."""
        total = sum(e * w for _, _, e, w, _ in self.evidence(st)) + anomaly_points(self.s.anomaly_weight, st.anomaly)
        return min(total, 100.0)

    def score_one(self, st: AccountState) -> tuple[float, list[Reason]]:
        """Score 0..100 with reasons sorted by contribution."""
        anomaly_score = st.anomaly
        reasons: list[Reason] = []
        total = 0.0
        baseline = self.population_baseline()
        for name, value, e, w, detail in self.evidence(st):
            pts = e * w
            if pts > 0.0:
                total += pts
                reasons.append(Reason(name, value, baseline.get(name), pts, detail))
        pts = anomaly_points(self.s.anomaly_weight, anomaly_score)
        if pts > 0.0:
            total += pts
            reasons.append(
                Reason(
                    "population_anomaly", anomaly_score, 0.5, pts, "HalfSpaceTrees over standardised account features"
                )
            )
        reasons.sort(key=lambda r: -r.points)
        return min(total, 100.0), reasons

    # -- population ---------------------------------------------------------------------------
    def summary_features(self, st: AccountState) -> dict[str, float]:
        ew = st.f
        span_h = max((st.last_ts - st.first_ts) / 3600.0, 1.0)
        return {
            "elicit": or_default(ew[E_ELICIT]),
            "rubric": or_default(ew[E_RUBRIC]),
            "single": or_default(ew[E_SINGLE], 0.5),
            "reuse": or_default(ew[E_REUSE]),
            "logout": or_default(ew[E_LOGOUT]),
            "login": or_default(ew[E_LOGIN]),
            "lograte": math.log1p(st.n / span_h),
            "hours": float(st.active_hours_24()),
        }

    def learn_population(self, st: AccountState) -> float:
        """Score then learn one account summary in the population model; anomaly in 0..1."""
        x = self.summary_features(st)
        self.scaler.learn_one(x)
        z = self.scaler.transform_one(x)
        # Squash standardised values into [0, 1], the input range HalfSpaceTrees expects.
        u = squash(z)
        # A model still warming up (a fresh worker, a partition taken over) has no opinion yet:
        # the account keeps the anomaly score it carries in its state.
        if self.hst.ready:
            score = self.hst.score_learn_one(u)
        else:
            score = st.anomaly
            self.hst.learn_one(u)
        return float(score)

    def population_baseline(self) -> dict[str, float]:
        """The population's mean of each behaviour (shown next to an alert's values).

        Read from the scaler's running means over account summaries: no upkeep per summary.
        """
        m = self.scaler.means
        if not m:
            return {}
        return {
            "reasoning_elicitation_rate": m["elicit"],
            "rubric_grading_rate": m["rubric"],
            "single_turn_share": m["single"],
            "template_reuse_rate": m["reuse"],
            "mean_output_tokens": math.expm1(m["logout"]),
            "active_hours_last_24h": m["hours"],
            "requests_per_hour": math.expm1(m["lograte"]),
        }
