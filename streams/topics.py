"""Every topic distillguard uses, with partitions and configs; created idempotently."""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from models.config import Settings


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str]
    purpose: str


def topic_specs(s: Settings) -> list[TopicSpec]:
    k = s.kafka
    keep = str(k.retention_ms)
    forever = "-1"
    return [
        TopicSpec(
            k.requests_topic,
            k.partitions,
            {"retention.ms": keep, "message.timestamp.type": "CreateTime"},
            "request events from the gateway, key account_id, timestamp = event time",
        ),
        TopicSpec(k.deadletter_topic, 1, {"retention.ms": keep}, "rejected request events with their reason"),
        TopicSpec(
            k.links_topic,
            1,
            {"retention.ms": forever},
            "link events (account shows an attribute value); the linker rebuilds its state from it",
        ),
        TopicSpec(
            k.membership_topic,
            k.partitions,
            {"retention.ms": keep},
            "account -> cluster changes from the linker, key account_id (co-partitioned with requests)",
        ),
        TopicSpec(
            k.summaries_topic,
            k.partitions,
            {"retention.ms": keep},
            "member summaries for the cluster stage, key cluster id",
        ),
        TopicSpec(k.alerts_topic, k.partitions, {"retention.ms": keep}, "alerts, key subject_id"),
        TopicSpec(k.alerts_deadletter_topic, 1, {"retention.ms": keep}, "malformed alerts seen by enforcement"),
        TopicSpec(
            k.actions_topic,
            k.partitions,
            {"cleanup.policy": "compact,delete", "retention.ms": keep},
            "enforcement actions, key account_id",
        ),
    ]


def create_topics(s: Settings, bootstrap: str | None = None, timeout_s: float = 30.0) -> dict[str, str]:
    """Create missing topics; return name -> 'created' | 'exists'. Raises on other errors."""
    admin = AdminClient({"bootstrap.servers": bootstrap or s.kafka.bootstrap_servers})
    specs = topic_specs(s)
    existing = set(admin.list_topics(timeout=timeout_s).topics)
    result: dict[str, str] = {t.name: "exists" for t in specs if t.name in existing}
    new = [
        NewTopic(t.name, num_partitions=t.partitions, replication_factor=s.kafka.replication_factor, config=t.config)
        for t in specs
        if t.name not in existing
    ]
    if new:
        for name, fut in admin.create_topics(new, operation_timeout=timeout_s).items():
            try:
                fut.result()
                result[name] = "created"
            except KafkaException as exc:
                if exc.args and getattr(exc.args[0], "code", lambda: None)() == 36:  # TOPIC_ALREADY_EXISTS
                    result[name] = "exists"
                else:
                    raise
    return result
