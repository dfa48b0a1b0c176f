"""Stages and the in-process runner.

The three stages are plain objects; both runners call them:

- :class:`AccountStage` (keyed by account): event -> account alerts, link events, member
  summaries for the account's cluster;
- :class:`LinkerStage` (one instance, low-rate input): link event -> membership changes;
- :class:`ClusterStage` (keyed by cluster): member summary -> cluster alerts.

Population models live in each stage instance, and the runners keep one instance per Kafka
partition (accounts are assigned with the producer's default partitioner, CRC32 of the key), so
the in-process runner learns exactly what each streaming task learns.

>>> from models.config import load_settings
>>> p = Pipeline(load_settings())
>>> alerts = p.process_raw(b'{"event_id":"e1","ts":10,"account_id":"a","model":"m",'
...                        b'"prompt_tokens":5,"completion_tokens":50}')
>>> alerts, p.counters["events"]
([], 1)
>>> _ = p.process_raw(b'{"broken')
>>> p.rejects[0]["reason"][:25]
'(root): malformed JSON: u'
"""

from __future__ import annotations

import heapq
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from typing import Any

from models.account import E_ELICIT, E_RUBRIC, E_SINGLE, AccountModel, AccountState, Reason
from models.cluster import ClusterModel, ClusterState, MemberSummary
from models.config import Settings
from models.events import Reject, RequestEvent, parse_event
from models.features import extract
from models.linker import Linker, Membership
from models.policy import AlertPolicy
from models.scoring import anomaly_points, or_default

Alert = dict[str, Any]
LinkEvent = tuple[str, str, int, float]  # account, kind, value hash, ts
# Cluster-stage input: (cluster id, account, summary or None for "left the cluster", ts)
ClusterMsg = tuple[str, str, MemberSummary | None, float]


def partition_of(key: str, partitions: int) -> int:
    """Partition of a key as the confluent-kafka producer assigns it (CRC32 of the key)."""
    return zlib.crc32(key.encode("utf-8", "surrogatepass")) % partitions


class AccountOutput:
    __slots__ = ("alerts", "cluster_msgs", "duplicate", "links")

    def __init__(self) -> None:
        self.alerts: list[Alert] = []
        self.links: list[LinkEvent] = []
        self.cluster_msgs: list[ClusterMsg] = []
        self.duplicate = False


class AccountStage:
    """Per-account stage. ``states`` is any mapping (a dict, or a Faust table cache)."""

    def __init__(
        self,
        settings: Settings,
        states: MutableMapping[str, AccountState] | None = None,
        config_hash: str | None = None,
    ) -> None:
        self.settings = settings
        self.s = settings.account
        self.model = AccountModel(settings.account)
        self.policy = AlertPolicy(settings.policy, config_hash or settings.config_hash())
        self.states: MutableMapping[str, AccountState] = {} if states is None else states

    def summary(self, acct: str, st: AccountState) -> MemberSummary:
        ew = st.f
        return MemberSummary(
            acct,
            st.n,
            or_default(ew[E_ELICIT]),
            or_default(ew[E_RUBRIC]),
            or_default(ew[E_SINGLE], 0.5),
            st.created_ts,
            st.first_ts,
            st.last_ts,
            st.top_template(),
            st.score,
            st.hour_mask & 0xFFFFFF,
            st.org,
        )

    def process(self, ev: RequestEvent, out: AccountOutput | None = None) -> AccountOutput:
        out = out or AccountOutput()
        acct = ev.account_id
        states = self.states
        st = states.get(acct)
        if st is None:
            st = AccountState(ev.account_created_ts)
            states[acct] = st
        elif st.created_ts < 0 and ev.account_created_ts is not None:
            st.created_ts = ev.account_created_ts
        if ev.org_id is not None and st.org != ev.org_id:
            st.org = ev.org_id
        if st.seen_event(ev.event_id):
            out.duplicate = True
            return out
        f = extract(ev)
        ts = ev.ts
        for kind, value in self.model.learn_one(st, f, ts):
            out.links.append((acct, kind, value, ts))
        s = self.s
        n = st.n
        due = n <= s.summary_first or n % s.summary_every == 0
        if due:
            st.anomaly = self.model.learn_population(st)
        # Scoring every few events, not every one: the account score moves slowly (EW
        # statistics) and is the costliest per-event step after feature extraction.
        if (n >= s.min_events and n % s.score_every == 0) or due:
            st.score = score = self.model.score_value(st)
            if n >= s.min_events and (st.band or self.policy.band_of(score) > 0):
                alert = self.policy.decide(
                    st, "account", acct, [acct], score, _Lazy(lambda: self.model.score_one(st)[1]), ts
                )
                if alert is not None:
                    if st.org is not None:
                        alert["org_ids"] = {acct: st.org}
                    out.alerts.append(alert)
        if due and st.cluster is not None:
            out.cluster_msgs.append((st.cluster, acct, self.summary(acct, st), ts))
        return out

    def on_membership(self, acct: str, cluster: str | None, ts: float, seq: int | None = None) -> list[ClusterMsg]:
        """The linker moved ``acct`` to ``cluster``: leave the old one, report to the new one.

        ``seq`` (the offset of the link that caused the change, streaming runner) makes this
        idempotent: a change the linker sends again after a restart is ignored, even when the
        account has moved on since (applying it again would move the account back).
        """
        st = self.states.get(acct)
        if st is None:
            return []
        msgs: list[ClusterMsg] = []
        if seq is not None:
            if st.membership_seq > seq:
                return msgs
            st.membership_seq = seq + 1
            self.states[acct] = st
        old = st.cluster
        if old == cluster:
            return msgs
        if old is not None:
            msgs.append((old, acct, None, ts))
        st.cluster = cluster
        self.states[acct] = st
        if cluster is not None:
            msgs.append((cluster, acct, self.summary(acct, st), ts))
        return msgs


class _Lazy(list[Reason]):
    """Reasons computed only when the policy emits an alert (most events emit none)."""

    def __init__(self, fn: Callable[[], list[Reason]]) -> None:
        super().__init__()
        self._fn: Callable[[], list[Reason]] | None = fn

    def _load(self) -> None:
        if self._fn is not None:
            fn, self._fn = self._fn, None
            self.extend(fn())

    def __bool__(self) -> bool:
        self._load()
        return len(self) > 0

    def __getitem__(self, i: Any) -> Any:
        self._load()
        return super().__getitem__(i)

    def __iter__(self) -> Iterator[Reason]:
        self._load()
        return super().__iter__()


class LinkerStage:
    """Wraps :class:`Linker`; one instance sees every link event."""

    def __init__(self, settings: Settings, linker: Linker | None = None) -> None:
        self.linker = linker or Linker(settings.linker)

    def process(self, link: LinkEvent) -> list[Membership]:
        acct, kind, value, _ts = link
        return self.linker.link(acct, kind, value)


class ClusterStage:
    """Per-cluster stage. ``states`` is any mapping (a dict, or a Faust table cache)."""

    def __init__(
        self,
        settings: Settings,
        states: MutableMapping[str, ClusterState] | None = None,
        config_hash: str | None = None,
    ) -> None:
        self.settings = settings
        self.s = settings.cluster
        self.model = ClusterModel(settings.cluster)
        self.policy = AlertPolicy(settings.policy, config_hash or settings.config_hash())
        self.states: MutableMapping[str, ClusterState] = {} if states is None else states

    def process(self, msg: ClusterMsg) -> list[Alert]:
        cid, acct, summary, ts = msg
        st = self.states.get(cid)
        if st is None:
            if summary is None:
                return []
            st = ClusterState()
        before = len(st.members)
        if summary is None:
            self.model.remove(st, acct)
        else:
            self.model.apply(st, summary)
        if not st.members:
            self.states.pop(cid, None)
            return []
        self.states[cid] = st
        grew = len(st.members) > before
        if len(st.members) < self.s.min_members:
            return []
        if not grew and ts - st.last_eval_ts < self.s.eval_every_s:
            return []
        st.last_eval_ts = ts
        anomaly = self.model.learn_population(st, ts)
        score, reasons = self.model.score_one(st, ts)
        pts = anomaly_points(self.s.anomaly_weight, anomaly)
        if pts > 0:
            score = min(score + pts, 100.0)
            reasons.append(Reason("cluster_anomaly", anomaly, 0.5, pts, "HalfSpaceTrees over clusters"))
            reasons.sort(key=lambda r: -r.points)
        alert = self.policy.decide(st, "cluster", cid, st.members, score, reasons, ts)
        if alert is None:
            return []
        orgs = {a: m.org for a, m in st.members.items() if m.org is not None}
        if orgs:
            alert["org_ids"] = orgs  # lets enforcement honour organisation allowlists
        return [alert]


class Pipeline:
    """The in-process runner: every stage called directly, in arrival order.

    Feed it events in event-time order (``ordered`` re-orders a slightly shuffled stream).
    Deterministic for a given input, configuration and partition count.
    """

    def __init__(
        self, settings: Settings, partitions: int | None = None, on_alert: Callable[[Alert], None] | None = None
    ) -> None:
        self.settings = settings
        self.partitions = partitions or settings.kafka.partitions
        h = settings.config_hash()
        self.config_hash = h
        self.accounts = [AccountStage(settings, config_hash=h) for _ in range(self.partitions)]
        self.linker = LinkerStage(settings)
        self.clusters = [ClusterStage(settings, config_hash=h) for _ in range(self.partitions)]
        self.counters: Counter[str] = Counter()
        self.rejects: list[dict[str, Any]] = []
        self.on_alert = on_alert
        self.max_rejects_kept = 100_000

    def account_stage(self, acct: str) -> AccountStage:
        return self.accounts[partition_of(acct, self.partitions)]

    def cluster_stage(self, cid: str) -> ClusterStage:
        return self.clusters[partition_of(cid, self.partitions)]

    def reject(self, r: Reject, source: str = "") -> None:
        self.counters["rejects"] += 1
        field = r.reason.split(":", 1)[0]
        self.counters[f"rejects.{field}"] += 1
        if len(self.rejects) < self.max_rejects_kept:
            d = r.to_dict()
            if source:
                d["source"] = source
            self.rejects.append(d)

    def process_raw(self, raw: bytes, source: str = "") -> list[Alert]:
        ev = parse_event(raw)
        if isinstance(ev, Reject):
            self.reject(ev, source)
            return []
        return self.process(ev)

    def process(self, ev: RequestEvent) -> list[Alert]:
        self.counters["events"] += 1
        out = self.account_stage(ev.account_id).process(ev)
        if out.duplicate:
            self.counters["duplicates"] += 1
            return []
        alerts = out.alerts
        msgs = out.cluster_msgs
        for link in out.links:
            self.counters["links"] += 1
            for acct, cid in self.linker.process(link):
                msgs.extend(self.account_stage(acct).on_membership(acct, cid, ev.ts))
        for msg in msgs:
            alerts.extend(self.cluster_stage(msg[0]).process(msg))
        if alerts:
            self.counters["alerts"] += len(alerts)
            for a in alerts:
                self.counters[f"alerts.{a['severity']}"] += 1
                if self.on_alert is not None:
                    self.on_alert(a)
        return alerts

    def run(self, events: Iterable[RequestEvent | Reject]) -> Iterator[Alert]:
        for ev in events:
            if isinstance(ev, Reject):
                self.reject(ev)
                continue
            yield from self.process(ev)

    def account_count(self) -> int:
        return sum(len(s.states) for s in self.accounts)


def ordered(events: Iterable[RequestEvent | Reject], window: int = 10_000) -> Iterator[RequestEvent | Reject]:
    """Re-order a stream into event-time order within a buffer of ``window`` events.

    Events later than the buffer can fix are passed on as they come (and counted by the caller
    as late); rejects pass straight through.
    """
    heap: list[tuple[float, int, RequestEvent]] = []
    seq = 0
    for ev in events:
        if isinstance(ev, Reject):
            yield ev
            continue
        if len(heap) < window:
            heapq.heappush(heap, (ev.ts, seq, ev))
        else:  # push and pop the earliest in one step
            yield heapq.heappushpop(heap, (ev.ts, seq, ev))[2]
        seq += 1
    while heap:
        yield heapq.heappop(heap)[2]
