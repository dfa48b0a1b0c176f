"""The compose file is well formed and every command it runs exists in the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from streams.cli import build_parser

REPO = Path(__file__).resolve().parents[1]


def test_compose_file_is_well_formed_and_its_commands_exist() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"kafka", "topics", "worker-1", "worker-2", "enforce", "prometheus"} <= set(services)
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    parser = build_parser()
    app_services = [s for s in services.values() if "build" in s]
    assert len(app_services) >= 4
    for svc in app_services:
        assert (REPO / svc["build"]["dockerfile"]).exists()
        assert svc["environment"]["DISTILLGUARD_KAFKA__BOOTSTRAP_SERVERS"] == "kafka:9092"
        args = parser.parse_args(svc["command"])  # raises SystemExit on an unknown command
        assert callable(args.func)
        for dep in svc.get("depends_on", {}):
            assert dep in services
    # the worker exits (70, without committing) when its outputs cannot be delivered: it relies
    # on being restarted
    assert services["worker-1"]["restart"] == services["worker-2"]["restart"] == "on-failure"


def test_prometheus_scrapes_the_workers() -> None:
    prom = yaml.safe_load((REPO / "deploy/prometheus/prometheus.yml").read_text())
    targets = prom["scrape_configs"][0]["static_configs"][0]["targets"]
    assert targets == ["worker-1:6066", "worker-2:6066"]


def test_unknown_command_is_rejected() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["no-such-command"])
