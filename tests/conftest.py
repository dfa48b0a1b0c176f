"""Shared fixtures. Kafka tests need the real broker: `make test` starts it and exports
KAFKA_BOOTSTRAP_SERVERS; without a reachable broker those tests fail (never skip)."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import orjson
import pytest

from models.config import Settings, load_settings
from streams.simulator import Simulator

CONTRACTS = Path(__file__).parent / "contracts"


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings()


@pytest.fixture(scope="session")
def alert_schema() -> dict[str, Any]:
    return json.loads((CONTRACTS / "alert.schema.json").read_text())


@pytest.fixture(scope="session")
def small_sim() -> tuple[list[bytes], dict[str, str]]:
    """A small labelled simulation: 2,500 accounts, 3 campaigns, 8 hours."""
    sim = Simulator(2500, 3, 8 * 3600, seed=11)
    raws = [orjson.dumps(ev) for ev, _ in sim.events()]
    labels = {r["account_id"]: r["campaign_id"] for r in sim.labels()}
    return raws, labels


@pytest.fixture(scope="session")
def small_sim_file(
    tmp_path_factory: pytest.TempPathFactory, small_sim: tuple[list[bytes], dict[str, str]]
) -> tuple[Path, Path]:
    raws, labels = small_sim
    d = tmp_path_factory.mktemp("sim")
    events = d / "events.jsonl"
    events.write_bytes(b"\n".join(raws) + b"\n")
    lab = d / "labels.jsonl"
    lab.write_bytes(b"".join(orjson.dumps({"account_id": a, "campaign_id": c}) + b"\n" for a, c in labels.items()))
    return events, lab


@pytest.fixture(scope="session")
def bootstrap() -> str:
    servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not servers:
        pytest.fail(
            "KAFKA_BOOTSTRAP_SERVERS is not set: run the suite with `make test`, which starts "
            "the local broker (deploy/kafka/kafka.sh)"
        )
    host, _, port = servers.split(",")[0].rpartition(":")
    try:
        socket.create_connection((host or "localhost", int(port)), timeout=5).close()
    except OSError as exc:
        pytest.fail(f"Kafka broker at {servers} is unreachable: {exc}")
    return servers
