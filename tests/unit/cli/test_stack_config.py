"""Rendering of the components' configuration, without starting anything."""

from __future__ import annotations

import base64
import json
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import pytest

from callstream_cli.stack.component import port_is_open
from callstream_cli.stack.kafka import (
    TopicSpec,
    new_cluster_id,
    normalize_topics,
    read_kafka_version,
    render_log4j2_xml,
    render_server_properties,
)
from callstream_cli.stack.manager import COMPONENT_NAMES, component, components
from callstream_cli.stack.postgres import unreachable_ancestors
from callstream_cli.stack.seaweed import render_s3_config, weed_mini_args
from callstream_cli.stack.settings import StackSettings


def _props(text: str) -> dict[str, str]:
    return dict(
        line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")
    )


def test_server_properties_single_kraft_node(tmp_path: Path) -> None:
    s = StackSettings(kafka_port=29092, kafka_controller_port=29093)
    props = _props(render_server_properties(s, tmp_path / "data"))
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == f"{props['node.id']}@127.0.0.1:29093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:29092"
    assert props["controller.listener.names"] == "CONTROLLER"
    assert props["log.dirs"] == str(tmp_path / "data")
    # One node cannot satisfy the default replication factor (3) of internal topics.
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "share.coordinator.state.topic.replication.factor",
        "default.replication.factor",
    ):
        assert props[key] == "1", key


def test_log4j2_config_is_xml_writing_to_the_log_file(tmp_path: Path) -> None:
    log = tmp_path / "a&b" / "kafka.log"
    root = ElementTree.fromstring(render_log4j2_xml(log))  # noqa: S314 - our own output
    appender = root.find("./Appenders/RollingFile")
    assert appender is not None
    assert appender.get("fileName") == str(log)
    root_logger = root.find("./Loggers/Root/AppenderRef")
    assert root_logger is not None and root_logger.get("ref") == appender.get("name")


def test_cluster_id_is_a_kafka_uuid() -> None:
    ids = {new_cluster_id() for _ in range(50)}
    assert len(ids) == 50
    for cid in ids:
        assert len(cid) == 22 and not cid.startswith("-")
        assert len(base64.urlsafe_b64decode(cid + "==")) == 16


def test_kafka_version_is_read_from_the_clients_jar(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "kafka-clients-4.3.1.jar", "w") as jar:
        jar.writestr("kafka/kafka-version.properties", "commitId=abc123\nversion=4.3.1\n")
    assert read_kafka_version(tmp_path) == ("4.3.1", "abc123")


@dataclass(frozen=True)
class _CommonTopic:
    name: str
    partitions: int
    retention_ms: int | None = None


def test_topics_are_accepted_in_every_shape() -> None:
    specs = normalize_topics(
        [
            ("calls.uploaded", 6),
            "plain",
            TopicSpec("explicit", 2),
            _CommonTopic("callstream.dlq", 3, retention_ms=1000),
            ("calls.uploaded", 4),  # a later entry for the same name wins
        ]
    )
    assert specs == [
        TopicSpec("calls.uploaded", 4),
        TopicSpec("plain", 1),
        TopicSpec("explicit", 2),
        TopicSpec("callstream.dlq", 3, (("retention.ms", "1000"),)),
    ]


@pytest.mark.parametrize("bad", [("t", 0), 42, ("only-one",)])
def test_bad_topics_are_refused(bad: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        normalize_topics([bad])


def test_s3_config_has_one_identity_with_the_keys() -> None:
    s = StackSettings(s3_access_key="AK", s3_secret_key="SK")
    config = json.loads(render_s3_config(s))
    (identity,) = config["identities"]
    assert identity["credentials"] == [{"accessKey": "AK", "secretKey": "SK"}]
    assert "Admin" in identity["actions"]


def test_weed_mini_pins_every_port_and_loopback(tmp_path: Path) -> None:
    s = StackSettings(weed_admin_port=21346)
    args = weed_mini_args(s, tmp_path)
    flags = dict(a.lstrip("-").split("=", 1) for a in args[1:])
    assert args[0] == "mini"
    assert flags["ip"] == flags["ip.bind"] == "127.0.0.1"
    weed_ports = {port for name, port in s.all_ports().items() if name.startswith(("s3", "weed"))}
    assert {int(v) for k, v in flags.items() if k.endswith(("port", "port.grpc"))} == weed_ports
    assert flags["admin.port.grpc"] == "31346"
    assert flags["s3.port.iceberg"] == flags["s3.port.lance"] == "0"
    assert flags["webdav"] == "false" and flags["master.telemetry"] == "false"
    assert flags["s3.config"] == str(tmp_path / "s3.json")
    # Sockets inside the stack folder, not shared /tmp paths.
    assert flags["filer.localSocket"].startswith(str(tmp_path))
    assert flags["s3.localSocket"].startswith(str(tmp_path))


def test_components_cover_every_port_once() -> None:
    s = StackSettings()
    claimed = [port for c in components(s) for port in c.ports()]
    assert sorted(claimed) == sorted(s.all_ports().values())
    assert [c.name for c in components(s)] == list(COMPONENT_NAMES)
    assert component(s, "redis").name == "redis"


def test_unreachable_ancestors_finds_closed_folders(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    inner = closed / "inner" / "pgdata"
    inner.mkdir(parents=True)
    closed.chmod(stat.S_IRWXU)
    try:
        blocked = unreachable_ancestors(inner, uid=54321, gid=54321)
        assert closed in blocked
        assert unreachable_ancestors(inner, uid=closed.stat().st_uid, gid=0) == [
            p for p in blocked if p.stat().st_uid != closed.stat().st_uid
        ]
    finally:
        closed.chmod(0o755)


def test_port_is_open_detects_a_listener() -> None:
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert port_is_open("127.0.0.1", port)
    assert not port_is_open("127.0.0.1", port)


def test_postgres_system_folder_is_per_checkout_and_short_enough_for_its_socket() -> None:
    """A long checkout name still leaves room for ``run/.s.PGSQL.<port>`` in 107 bytes."""
    long_name = Path("/root") / ("a-very-long-checkout-name-" * 4) / ".local" / "stack"
    first = StackSettings(stack_dir=long_name).system_state_dir()
    second = StackSettings(stack_dir=long_name.parent / "test-stack+1000").system_state_dir()
    assert first != second and first.parent == second.parent
    socket = first / "postgres" / "run" / ".s.PGSQL.65535"
    assert len(str(socket).encode()) <= 107


def test_postgres_runs_niced_only_when_asked() -> None:
    plain = component(StackSettings(), "postgres").argv()
    assert Path(plain[0]).name == "postgres"
    niced = component(StackSettings(postgres_nice=10), "postgres").argv()
    assert niced[:3] == ["nice", "-n", "10"] and niced[3:] == plain
