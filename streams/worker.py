"""The streaming runner: a Faust app with one agent per stage, calling the stage objects of
``models.pipeline`` unchanged.

- ``account-stage`` reads ``requests`` and ``distillguard.membership`` (co-partitioned by
  account) and keeps account states in the ``accounts`` table;
- ``linker-stage`` reads the one-partition ``distillguard.links`` topic;
- ``cluster-stage`` reads ``distillguard.summaries`` (partitioned by cluster) and keeps cluster states
  in the ``clusters`` table;
- the population models of both stages (one per partition) are saved to the ``population``
  table every ``worker.population_save_s`` and on revocation.

State write-back: each agent takes a batch (``stream.take_events``), works on live objects in
a cache, then writes every touched key back to its table once, with the offset of the last
message applied to it. Outputs go through one confluent-kafka producer (``streams.sink``): a
batch waits for the broker's acknowledgement of its outputs, then writes its state and waits
again; Faust acks (and later commits) the batch's offsets only after that. A crash loses no
state: the changelog holds each key as of its last batch; messages after the last commit are
delivered again and skipped by that per-key offset, so nothing is counted twice. Link events,
summaries and membership changes travel in one message per destination partition and batch.
Commits and delivery order are guarded against faust 0.15's consumer (``streams.offsets``).
The linker keeps no table: its state is a function of the link log,
and it rebuilds by reading that log up to the offset it resumes from.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import time
from collections import Counter
from collections.abc import Iterator, MutableMapping
from typing import Any

import faust
import orjson
from confluent_kafka import Consumer, KafkaError, TopicPartition

from models.account import AccountState
from models.cluster import ClusterState, MemberSummary
from models.config import Settings
from models.events import Reject, parse_event
from models.pipeline import AccountStage, ClusterMsg, ClusterStage, LinkerStage, partition_of
from streams.kafka_io import consumer_config
from streams.logs import get_logger, where_raised
from streams.offsets import App, PartitionOrder, SafeCommitConsumer
from streams.sink import Sink

log = get_logger("distillguard.worker")

# Rows per message on the links, summaries and membership topics: well under Kafka's default
# 1 MB message limit even in a burst (a row is 50-300 bytes).
ROWS_PER_MESSAGE = 1000


class TableCache(MutableMapping[str, Any]):
    """Live state objects of one partition of a Faust table; written back once per batch.

    Table values are ``pickle((state, applied_offset))``; keys are account or cluster ids (or
    ``account:<partition>`` / ``cluster:<partition>`` for the population models). Reads and
    writes name the partition themselves: Faust's RocksDB store would otherwise pick the
    database of the *current event*, and a batch mixes partitions.
    """

    def __init__(self, table: Any, partition: int) -> None:
        self.table = table
        self.partition = partition
        self.live: dict[str, Any] = {}
        self.offsets: dict[str, int] = {}
        self.dirty: set[str] = set()

    def _load(self, key: str) -> Any:
        raw = _store_get(self.table.data, self.partition, key.encode())
        if raw is None:
            return None
        state, offset = pickle.loads(raw)
        self.live[key] = state
        self.offsets[key] = offset
        return state

    def __getitem__(self, key: str) -> Any:
        st = self.live.get(key)
        if st is None:
            st = self._load(key)
            if st is None:
                raise KeyError(key)
        return st

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        st = self.live.get(key)
        if st is None:
            st = self._load(key)
        return default if st is None else st

    def __setitem__(self, key: str, value: Any) -> None:
        self.live[key] = value

    def __delitem__(self, key: str) -> None:
        self.live.pop(key, None)
        self.offsets[key] = -1

    def __iter__(self) -> Iterator[str]:
        return iter(self.live)

    def __len__(self) -> int:
        return len(self.live)

    def applied(self, key: str) -> int:
        if key not in self.offsets and key not in self.live:
            self._load(key)
        return self.offsets.get(key, -1)

    def touch(self, key: str, offset: int | None = None) -> None:
        self.dirty.add(key)
        if offset is not None:
            self.offsets[key] = offset

    def flush(self, sink: Sink) -> int:
        """Write every touched key back to the store and the changelog (through ``sink``)."""
        topic = self.table.changelog_topic.get_topic_name()
        writes: list[tuple[bytes, bytes | None]] = []
        for key in self.dirty:
            bkey = key.encode()
            st = self.live.get(key)
            raw = None
            if st is not None:
                raw = pickle.dumps((st, self.offsets.get(key, -1)), protocol=pickle.HIGHEST_PROTOCOL)
            writes.append((bkey, raw))
            sink.send(topic, self.partition, bkey, raw)
        _store_write(self.table.data, self.partition, writes)
        self.dirty.clear()
        return len(writes)


class TableCaches:
    """The :class:`TableCache` of each partition of one table."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self.parts: dict[int, TableCache] = {}

    def __call__(self, partition: int) -> TableCache:
        c = self.parts.get(partition)
        if c is None:
            c = self.parts[partition] = TableCache(self.table, partition)
        return c

    @property
    def dirty(self) -> bool:
        return any(c.dirty for c in self.parts.values())

    def flush(self, sink: Sink) -> int:
        return sum(c.flush(sink) for c in self.parts.values())

    def clear(self) -> None:
        self.parts.clear()


def _store_get(store: Any, partition: int, key: bytes) -> bytes | None:
    db_for = getattr(store, "_db_for_partition", None)
    if db_for is not None:  # RocksDB: one database per partition
        value: bytes | None = db_for(partition).get(key)
        return value
    return store.get(key)  # type: ignore[no-any-return]  # memory: one mapping


def _store_write(store: Any, partition: int, writes: list[tuple[bytes, bytes | None]]) -> None:
    """Puts (and deletes, value None) into one partition of the store: one RocksDB write batch."""
    db_for = getattr(store, "_db_for_partition", None)
    if db_for is not None:
        from rocksdict import WriteBatch

        batch = WriteBatch(raw_mode=True)
        for key, value in writes:
            if value is None:
                batch.delete(key)
            else:
                batch.put(key, value)
        db_for(partition).write(batch)
        return
    for key, value in writes:
        if value is None:
            store.pop(key, None)
        else:
            store[key] = value


def store_url(setting: str) -> str:
    """Faust store for the tables: RocksDB (through rocksdict) where it installs, else memory."""
    if setting == "memory":
        return "memory://"
    try:
        import rocksdict  # noqa: F401
    except ImportError:
        if setting == "rocksdb":
            raise
        return "memory://"
    return "rocksdb://"


def _faust_broker(bootstrap: str) -> str:
    return ";".join(f"kafka://{h.strip()}" for h in bootstrap.split(",") if h.strip())


class Worker:
    """Builds the Faust app and holds the per-partition stage objects of one worker process."""

    def __init__(
        self, settings: Settings, bootstrap: str | None = None, data_dir: str | None = None, web_port: int | None = None
    ) -> None:
        self.settings = settings
        k = settings.kafka
        w = settings.worker
        self.bootstrap = bootstrap or k.bootstrap_servers
        self.partitions = k.partitions
        self.config_hash = settings.config_hash()
        self.counters: Counter[str] = Counter()
        self.started = time.time()
        port = w.web_port if web_port is None else web_port
        self.app = App(
            w.app_id,
            broker=_faust_broker(self.bootstrap),
            # RocksDB (rocksdict) where it installs: a restarted worker reads only the changelog's
            # tail into its local state; memory: it reads the whole changelog
            store=store_url(w.store),
            datadir=data_dir or w.data_dir,
            topic_partitions=k.partitions,
            topic_replication_factor=k.replication_factor,
            topic_allow_declare=True,
            consumer_auto_offset_reset="earliest",
            processing_guarantee="at_least_once",
            producer_acks=-1,
            web_enabled=port > 0,
            web_port=port or 6066,
            web_host="127.0.0.1",
            broker_commit_interval=1.0,
            # A crashed worker's partitions move after 10 s, not the default minute.
            broker_session_timeout=10.0,
            broker_heartbeat_interval=2.0,
            stream_buffer_maxsize=16 * w.batch_size,
            table_standby_replicas=0,
            key_serializer="raw",  # tables hold pickled state as bytes
            value_serializer="raw",
        )
        app = self.app
        raw = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}
        self.t_in = app.topic(k.requests_topic, k.membership_topic, **raw)  # type: ignore[arg-type]
        self.t_links = app.topic(k.links_topic, partitions=1, **raw)  # type: ignore[arg-type]
        self.t_summaries = app.topic(k.summaries_topic, **raw)  # type: ignore[arg-type]
        self.accounts_table = app.Table("accounts", partitions=k.partitions, key_type=bytes, value_type=bytes)
        self.clusters_table = app.Table("clusters", partitions=k.partitions, key_type=bytes, value_type=bytes)
        # Population models (scaler + HalfSpaceTrees) of each stage partition, saved every
        # population_save_s and on revocation, so that a takeover does not start them afresh.
        self.population_table = app.Table("population", partitions=k.partitions, key_type=bytes, value_type=bytes)
        self.accounts = TableCaches(self.accounts_table)
        self.clusters = TableCaches(self.clusters_table)
        self.population = TableCaches(self.population_table)
        self.population_saved: dict[str, float] = {}
        self.account_stages: dict[int, AccountStage] = {}
        self.cluster_stages: dict[int, ClusterStage] = {}
        self.linker = LinkerStage(settings)
        self.linker_resume: int | None = None  # next link offset; None: rebuild from the log first
        self.order = PartitionOrder()
        self.owned: set[Any] = set()  # topic-partitions assigned to this worker now
        self.sink = Sink(self.bootstrap)

        app.agent(self.t_in, name="account-stage")(self._account_agent)
        app.agent(self.t_links, name="linker-stage")(self._linker_agent)
        app.agent(self.t_summaries, name="cluster-stage")(self._cluster_agent)
        app.on_partitions_revoked.connect(self._on_revoked)  # type: ignore[arg-type]
        app.on_partitions_assigned.connect(self._on_assigned)  # type: ignore[arg-type]
        app.timer(30.0)(self._log_counters)
        app.timer(self.order.reseek_s)(self._refetch_holes)
        if port > 0:
            app.page("/metrics")(self._metrics_page)

    # -- helpers ------------------------------------------------------------------------------
    def _account_stage(self, partition: int) -> AccountStage:
        st = self.account_stages.get(partition)
        if st is None:
            st = self.account_stages[partition] = AccountStage(
                self.settings, self.accounts(partition), self.config_hash
            )
            self._restore_population(f"account:{partition}", partition, st.model)
        return st

    def _cluster_stage(self, partition: int) -> ClusterStage:
        st = self.cluster_stages.get(partition)
        if st is None:
            st = self.cluster_stages[partition] = ClusterStage(
                self.settings, self.clusters(partition), self.config_hash
            )
            self._restore_population(f"cluster:{partition}", partition, st.model)
        return st

    def _restore_population(self, key: str, partition: int, model: Any) -> None:
        saved = self.population(partition).get(key)
        if saved is not None:
            model.scaler, model.hst = saved
            self.counters["population_restored"] += 1
        self.population_saved[key] = time.monotonic()

    def _save_population(self, force: bool = False) -> None:
        """Write the stages' population models back (every population_save_s, or now)."""
        now = time.monotonic()
        every = self.settings.worker.population_save_s
        for kind, stages in (("account", self.account_stages), ("cluster", self.cluster_stages)):
            for partition, stage in stages.items():
                key = f"{kind}:{partition}"
                if force or now - self.population_saved.get(key, now) >= every:
                    cache = self.population(partition)
                    cache[key] = (stage.model.scaler, stage.model.hst)
                    cache.touch(key)
                    self.population_saved[key] = now
        if self.population.dirty:
            self.population.flush(self.sink)

    def _emit_alert(self, alert: dict[str, Any]) -> None:
        alert["emitted_at"] = time.time()
        key = alert["subject_id"]
        self.sink.send(
            self.settings.kafka.alerts_topic, partition_of(key, self.partitions), key.encode(), orjson.dumps(alert)
        )
        self.counters["alerts"] += 1
        self.counters[f"alerts.{alert['severity']}"] += 1

    def _send_grouped(self, topic: str, rows: dict[int, list[Any]]) -> None:
        """One message per destination partition (and ROWS_PER_MESSAGE) of this batch's rows."""
        for partition, batch in rows.items():
            for i in range(0, len(batch), ROWS_PER_MESSAGE):
                self.sink.send(topic, partition, None, orjson.dumps(batch[i : i + ROWS_PER_MESSAGE]))
        rows.clear()

    def _cluster_rows(self, msgs: list[ClusterMsg], rows: dict[int, list[Any]]) -> None:
        # Explicit partitions (CRC32 of the cluster id): the in-process runner shards the same way.
        for cid, acct, summary, ts in msgs:
            rows.setdefault(partition_of(cid, self.partitions), []).append(
                [cid, acct, summary.to_dict() if summary else None, ts]
            )

    async def _on_revoked(self, sender: Any, revoked: Any, **kwargs: Any) -> None:
        # Live objects of partitions that may move away: everything was written back at the end
        # of the last batch, so dropping them is safe; they reload from the table. Population
        # models are saved first: the next owner recovers them (the group rejoins only after
        # every member has handled its revocation).
        try:
            self._save_population(force=True)
            self.sink.drain()
        except Exception as exc:  # a failed save costs the next owner a warm-up, no more
            log.warning("population models not saved on revocation", error=str(exc))
        self.account_stages.clear()
        self.cluster_stages.clear()
        self.population.clear()
        self.population_saved.clear()
        self.accounts.clear()
        self.clusters.clear()
        self.order.reset()
        self.owned = set()

    async def _on_assigned(self, sender: Any, assigned: Any, **kwargs: Any) -> None:
        self.linker_resume = None  # rebuild from the log before the next batch
        # Where each input partition resumes: the group's committed offsets are final once a
        # new generation assigns them, and the first message delivered must be that one.
        k = self.settings.kafka
        inputs = {k.requests_topic, k.membership_topic, k.links_topic, k.summaries_topic}
        self.owned = set(assigned)
        tps = [tp for tp in assigned if tp.topic in inputs]
        try:
            committed = await asyncio.get_running_loop().run_in_executor(None, self._committed_offsets, tps)
        except Exception as exc:  # the first delivery per partition then sets where it starts
            log.warning("could not read committed offsets", error=str(exc))
            committed = {}
        self.order.reset()
        for tp in tps:
            self.order.start(tp, committed.get((tp.topic, tp.partition)))

    def _committed_offsets(self, tps: list[Any]) -> dict[tuple[str, int], int]:
        if not tps:
            return {}
        c = Consumer(consumer_config(self.bootstrap, self.settings.worker.app_id))
        try:
            got = c.committed([TopicPartition(tp.topic, tp.partition) for tp in tps], timeout=10.0)
            return {(t.topic, t.partition): t.offset for t in got if t.offset >= 0}
        finally:
            c.close()

    def _in_order(self, msg: Any) -> bool:
        """False for a message to leave out, unacked: it comes again, in order, to its owner.

        Two cases. A message of a partition this worker does not own now (a batch gathered
        before a rebalance): its new owner processes it from the last commit, and processing it
        here too would write stale state for its keys into the changelog. And a message that
        arrived ahead of its partition's next offset (see ``streams.offsets``).
        """
        consumer: SafeCommitConsumer = self.app.consumer  # type: ignore[assignment]
        tp = msg.tp
        if tp not in self.owned:
            consumer.hold_back(msg)
            self.counters["not_owned_skipped"] += 1
            return False
        order = self.order
        if tp not in order.expected:
            order.start(tp, consumer.committed(tp))
        if order.admit(tp, msg.offset):
            if order.jumps:
                for jtp, start, end in order.take_jumps():
                    consumer.mark_gap(jtp, start, end)
                    self.counters["offset_gaps"] += 1
                    log.error("offsets never delivered; moving on", partition=str(jtp), first=start, end=end)
            return True
        consumer.hold_back(msg)
        self.counters["held_back"] += 1
        return False

    async def _refetch_holes(self) -> None:
        """Seek partitions that jumped back to their next expected offset."""
        consumer = self.app.consumer
        for tp, offset in self.order.take_seeks():
            if tp in consumer.assignment():
                self.counters["refetches"] += 1
                log.warning("partition jumped ahead; fetching again", partition=str(tp), offset=offset)
                await consumer.seek(tp, offset)

    async def _log_counters(self) -> None:
        log.info("worker counters", **dict(self.counters))

    async def _metrics_page(self, web: Any, request: Any) -> Any:
        lines = [f"distillguard_{k.replace('.', '_')}_total {v}" for k, v in sorted(self.counters.items())]
        lines.append(f"distillguard_uptime_seconds {time.time() - self.started:.0f}")
        return web.text("\n".join(lines) + "\n")

    # -- agents -------------------------------------------------------------------------------
    async def _account_agent(self, stream: Any) -> None:
        k = self.settings.kafka
        w = self.settings.worker
        async for events in stream.take_events(w.batch_size, within=w.batch_within_s):
            links: list[list[Any]] = []
            summaries: dict[int, list[Any]] = {}
            for event in events:
                msg = event.message
                if not self._in_order(msg):
                    continue
                if msg.topic == k.membership_topic:
                    self._membership(msg.value, msg.partition, summaries)
                else:
                    self._request(msg.value, msg.key, msg.partition, msg.offset, links, summaries)
            # Link events and summaries travel in one message per destination partition and
            # batch: the linker and cluster agents then pay Kafka's per-message cost once.
            self._send_grouped(k.links_topic, {0: links})
            self._send_grouped(k.summaries_topic, summaries)
            # Outputs first, state second: once a key's state (with its applied offset) is in
            # the changelog, the outputs of its events are on the broker; a crash in between
            # only sends them again (same alert_id) when the events are redelivered.
            self.sink.drain()
            self.accounts.flush(self.sink)
            self._save_population()
            self.sink.drain()
            self.counters["batches.account"] += 1
            await self._refetch_holes()

    def _request(
        self,
        raw: bytes,
        key: bytes | None,
        partition: int,
        offset: int,
        links: list[list[Any]],
        summaries: dict[int, list[Any]],
    ) -> None:
        ev = parse_event(raw)
        if isinstance(ev, Reject):
            self.counters["rejects"] += 1
            self.counters[f"rejects.{ev.reason.split(':', 1)[0]}"] += 1
            where = self._dead_letter(raw, key, partition, offset, ev.reason)
            if self.counters["rejects"] <= 20 or self.counters["rejects"] % 1000 == 0:
                log.warning("event rejected", source=where, reason=ev.reason, rejects=self.counters["rejects"])
            return
        acct = ev.account_id
        states = self.accounts(partition)
        if states.applied(acct) >= offset:
            self.counters["redelivered_skipped"] += 1
            return
        try:
            out = self._account_stage(partition).process(ev)
        except Exception as exc:
            # A defect met by one valid event must not make it a poison pill that stops the
            # worker at every restart: it goes to the dead-letter topic like a bad event. Only
            # the exception's type and place are reported (its message could quote the event).
            self.counters["internal_errors"] += 1
            reason = f"internal error: {where_raised(exc)}"
            where = self._dead_letter(raw, key, partition, offset, reason)
            log.error("event failed", source=where, reason=reason, internal_errors=self.counters["internal_errors"])
            states.touch(acct, offset)
            return
        states.touch(acct, offset)
        self.counters["events"] += 1
        if out.duplicate:
            self.counters["duplicates"] += 1
            return
        for a, kind, value, ts in out.links:
            links.append([a, kind, value, ts])
        self._cluster_rows(out.cluster_msgs, summaries)
        for alert in out.alerts:
            self._emit_alert(alert)

    def _dead_letter(self, raw: bytes, key: bytes | None, partition: int, offset: int, reason: str) -> str:
        """The message itself, byte for byte, with the reason in headers: nothing is lost."""
        where = f"{self.settings.kafka.requests_topic}[{partition}]@{offset}"
        self.sink.send(
            self.settings.kafka.deadletter_topic,
            0,
            key,
            raw or b"",
            headers=[("dg.reason", reason.encode()), ("dg.source", where.encode())],
        )
        return where

    def _membership(self, raw: bytes, partition: int, summaries: dict[int, list[Any]]) -> None:
        stage = self._account_stage(partition)
        states = self.accounts(partition)
        for acct, cid, ts, seq in orjson.loads(raw):
            self._cluster_rows(stage.on_membership(acct, cid, ts, seq), summaries)
            states.touch(acct)

    async def _linker_agent(self, stream: Any) -> None:
        k = self.settings.kafka
        w = self.settings.worker
        async for events in stream.take_events(w.batch_size, within=w.batch_within_s):
            events = [e for e in events if self._in_order(e.message)]
            await self._refetch_holes()
            if not events:
                continue
            if self.linker_resume is None:
                first = events[0].message.offset
                await asyncio.get_running_loop().run_in_executor(None, self._rebuild_linker, first)
                self.linker_resume = first
                if events[0].message.tp not in self.owned:  # moved away while rebuilding
                    for e in events:
                        self.app.consumer.hold_back(e.message)  # type: ignore[attr-defined]
                    self.linker_resume = None
                    continue
            changes: dict[int, list[Any]] = {}
            for event in events:
                off = event.message.offset
                if off < self.linker_resume:  # fetched again after a seek: already applied
                    self.counters["redelivered_skipped"] += 1
                    continue
                self.linker_resume = off + 1
                for a, kind, value, ts in orjson.loads(event.message.value):
                    for acct, cid in self.linker.process((a, kind, int(value), ts)):
                        changes.setdefault(partition_of(acct, self.partitions), []).append([acct, cid, ts, off])
                        self.counters["membership_changes"] += 1
                    self.counters["links"] += 1
            # Membership goes to the account's partition, with the account's requests.
            self._send_grouped(k.membership_topic, changes)
            self.sink.drain()

    def _rebuild_linker(self, upto: int) -> None:
        """Replay the link log [0, upto) into a fresh linker, silently (its outputs were sent)."""
        self.linker = LinkerStage(self.settings)
        if upto <= 0:
            return
        topic = self.settings.kafka.links_topic
        c = Consumer(consumer_config(self.bootstrap, f"{self.settings.worker.app_id}-linker-rebuild"))
        try:
            c.assign([TopicPartition(topic, 0, 0)])
            n = links = 0
            while n < upto:
                msgs = c.consume(5000, timeout=5.0)
                if not msgs:
                    break
                for m in msgs:
                    err = m.error()
                    if err is not None:
                        if err.code() == KafkaError._PARTITION_EOF:
                            continue
                        raise RuntimeError(str(err))
                    off = int(m.offset() or 0)
                    if off >= upto:
                        n = upto
                        break
                    for a, kind, value, ts in orjson.loads(m.value() or b"[]"):
                        self.linker.process((a, kind, int(value), ts))
                        links += 1
                    n = off + 1
            clusters = self.linker.linker.stats()["clusters"]
            log.info("linker rebuilt from its log", messages=n, links=links, clusters=clusters)
        finally:
            c.close()

    async def _cluster_agent(self, stream: Any) -> None:
        w = self.settings.worker
        async for events in stream.take_events(w.batch_size, within=w.batch_within_s):
            for event in events:
                msg = event.message
                if not self._in_order(msg):
                    continue
                stage = self._cluster_stage(msg.partition)
                # A key already written back with this message's offset applied the whole
                # message before a crash: skip all of its rows for that key (decided once per
                # message, since applying the first row moves the key's offset to this one).
                done: dict[str, bool] = {}
                for cid, acct, summary, ts in orjson.loads(msg.value):
                    skip = done.get(cid)
                    if skip is None:
                        skip = done[cid] = self.clusters(msg.partition).applied(cid) >= msg.offset
                    if skip:
                        self.counters["redelivered_skipped"] += 1
                        continue
                    member = MemberSummary.from_dict(summary) if summary is not None else None
                    for alert in stage.process((cid, acct, member, ts)):
                        self._emit_alert(alert)
                    self.clusters(msg.partition).touch(cid, msg.offset)
            self.sink.drain()  # alerts before the state that records them (see the account agent)
            self.clusters.flush(self.sink)
            self._save_population()
            self.sink.drain()
            self.counters["batches.cluster"] += 1
            await self._refetch_holes()


def run_worker(
    settings: Settings,
    bootstrap: str | None = None,
    data_dir: str | None = None,
    web_port: int | None = None,
    loglevel: str = "warning",
) -> None:
    """Run until SIGTERM/SIGINT (Faust's worker stops the agents and commits cleanly)."""
    w = Worker(settings, bootstrap, data_dir, web_port)
    os.makedirs(data_dir or settings.worker.data_dir, exist_ok=True)
    worker = faust.Worker(w.app, loglevel=loglevel, quiet=True)
    # Faust's terminal spinner puts the root logger at DEBUG (to spin on every record), and the
    # Kafka client then builds a debug record per message sent: a tenth of the worker's time.
    worker.spinner = None
    worker.execute_from_commandline()


__all__ = ["AccountState", "ClusterState", "TableCache", "TableCaches", "Worker", "run_worker", "store_url"]
