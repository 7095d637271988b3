"""Apache Kafka as one KRaft node (combined broker + controller) run from Maven jars."""

from __future__ import annotations

import asyncio
import base64
import itertools
import shutil
import subprocess
import uuid
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from xml.sax.saxutils import escape

from callstream_cli.stack.component import Component, StackError
from callstream_cli.stack.downloads import ensure_kafka_libs
from callstream_cli.stack.process import tail
from callstream_cli.stack.settings import StackSettings

if TYPE_CHECKING:
    from aiokafka.admin import AIOKafkaAdminClient

#: Kafka error code for TOPIC_ALREADY_EXISTS (a concurrent creator won the race: fine).
TOPIC_ALREADY_EXISTS = 36
NODE_ID = 1


@runtime_checkable
class _NamedTopic(Protocol):
    name: str
    partitions: int


@dataclass(frozen=True)
class TopicSpec:
    """A topic the stack creates on ``up``; ``configs`` are Kafka topic configs."""

    name: str
    partitions: int = 1
    configs: tuple[tuple[str, str], ...] = ()


def _spec_from(item: Any) -> TopicSpec:
    if isinstance(item, TopicSpec):
        return item
    if isinstance(item, str):
        return TopicSpec(item)
    if isinstance(item, tuple) and len(item) == 2:
        return TopicSpec(str(item[0]), int(item[1]))
    if isinstance(item, _NamedTopic):
        configs: list[tuple[str, str]] = []
        retention_ms = getattr(item, "retention_ms", None)
        if retention_ms is not None:
            configs.append(("retention.ms", str(int(retention_ms))))
        return TopicSpec(str(item.name), int(item.partitions), tuple(configs))
    raise TypeError(f"cannot read a topic from {item!r}")


def normalize_topics(topics: Iterable[Any]) -> list[TopicSpec]:
    """Accept ``(name, partitions)`` pairs, plain names or objects with name/partitions.

    The topic list belongs to ``callstream_common``; accepting these shapes keeps the stack
    independent of how that list is modelled. An optional ``retention_ms`` attribute becomes
    the topic's ``retention.ms``. A later entry for the same name wins.
    """
    specs: dict[str, TopicSpec] = {}
    for item in topics:
        spec = _spec_from(item)
        if spec.partitions < 1:
            raise ValueError(f"topic {spec.name}: partitions must be >= 1")
        specs[spec.name] = spec
    return list(specs.values())


def new_cluster_id() -> str:
    """A Kafka cluster id: a random UUID in URL-safe base64 without padding (22 chars).

    Ids starting with '-' are skipped, as Kafka's own generator does, because command-line
    parsers would read them as options.
    """
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def render_server_properties(settings: StackSettings, data_dir: Path) -> str:
    """The broker configuration of a single combined KRaft node on loopback.

    A static voter set (``controller.quorum.voters``) is used so the storage is formatted
    without ``--standalone`` and restarts need no quorum bootstrap. Every internal topic gets
    replication factor 1, since the defaults (3) cannot be met by one node and would make
    consumer groups and transactions fail.
    """
    host = settings.host
    lines = {
        "process.roles": "broker,controller",
        "node.id": str(NODE_ID),
        "controller.quorum.voters": f"{NODE_ID}@{host}:{settings.kafka_controller_port}",
        "listeners": (
            f"PLAINTEXT://{host}:{settings.kafka_port},"
            f"CONTROLLER://{host}:{settings.kafka_controller_port}"
        ),
        "advertised.listeners": f"PLAINTEXT://{host}:{settings.kafka_port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(data_dir),
        "num.partitions": "1",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "true",
        "delete.topic.enable": "true",
        "log.retention.hours": "168",
        "log.segment.bytes": str(64 * 1024 * 1024),
    }
    body = "\n".join(f"{key}={value}" for key, value in lines.items())
    return f"# Written by `callstream stack up`; regenerated on every start.\n{body}\n"


def render_log4j2_xml(log_path: Path) -> str:
    """A log4j2 configuration that writes Kafka's log to one size-rotated file."""
    name = escape(str(log_path))
    pattern = escape(str(log_path.with_name(log_path.name + ".%i")))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <RollingFile name="file" fileName="{name}" filePattern="{pattern}">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
      <Policies><SizeBasedTriggeringPolicy size="50 MB"/></Policies>
      <DefaultRolloverStrategy max="3"/>
    </RollingFile>
  </Appenders>
  <Loggers>
    <Logger name="kafka.request.logger" level="WARN"/>
    <Logger name="org.apache.kafka.controller" level="INFO"/>
    <Logger name="state.change.logger" level="WARN"/>
    <Root level="INFO"><AppenderRef ref="file"/></Root>
  </Loggers>
</Configuration>
"""


def read_kafka_version(libs: Path) -> tuple[str, str]:
    """(version, commit id) from ``kafka/kafka-version.properties`` in the kafka-clients jar."""
    jars = sorted(libs.glob("kafka-clients-*.jar"))
    if not jars:
        raise StackError(f"no kafka-clients jar in {libs}")
    with zipfile.ZipFile(jars[-1]) as jar:
        text = jar.read("kafka/kafka-version.properties").decode()
    props = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    return props.get("version", "unknown").strip(), props.get("commitId", "unknown").strip()


class Kafka(Component):
    """Apache Kafka broker+controller; creates the declared topics after start."""

    name = "kafka"
    product = "Apache Kafka"
    stop_timeout = 45.0

    def __init__(self, settings: StackSettings, topics: Iterable[Any] = ()) -> None:
        super().__init__(settings)
        self.topics = normalize_topics(topics)

    @property
    def bootstrap(self) -> str:
        return f"{self.settings.host}:{self.settings.kafka_port}"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def output_path(self) -> Path:
        return self.settings.logs_dir / "kafka.stdout.log"

    def ports(self) -> list[int]:
        return [self.settings.kafka_port, self.settings.kafka_controller_port]

    def endpoint(self) -> str:
        return self.bootstrap

    def _java(self) -> str:
        java = shutil.which(self.settings.java_bin)
        if java is None:
            raise StackError(f"{self.settings.java_bin!r} not found; run scripts/bootstrap.sh")
        return java

    def _jvm_args(self) -> list[str]:
        return [
            self._java(),
            f"-Xmx{self.settings.kafka_heap}",
            "-Xms128m",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:+ExitOnOutOfMemoryError",
            "-XX:-UsePerfData",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.xml'}",
            "-cp",
            f"{self.settings.kafka_libs_dir}/*",
        ]

    def prepare(self) -> None:
        ensure_kafka_libs(self.settings)
        self.home.mkdir(parents=True, exist_ok=True)
        self.settings.logs_dir.mkdir(parents=True, exist_ok=True)
        (self.home / "server.properties").write_text(
            render_server_properties(self.settings, self.data_dir)
        )
        (self.home / "log4j2.xml").write_text(render_log4j2_xml(self.log_path))
        if (self.data_dir / "meta.properties").is_file():
            return
        id_file = self.home / "cluster.id"
        if not id_file.is_file():
            id_file.write_text(new_cluster_id() + "\n")
        cmd = [
            *self._jvm_args(),
            "kafka.tools.StorageTool",
            "format",
            "--cluster-id",
            id_file.read_text().strip(),
            "--config",
            str(self.home / "server.properties"),
            "--ignore-formatted",
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise StackError(
                f"kafka storage format failed:\n{(result.stdout + result.stderr)[-3000:]}\n"
                f"{tail(self.log_path)}"
            )

    def argv(self) -> list[str]:
        return [*self._jvm_args(), "kafka.Kafka", str(self.home / "server.properties")]

    def _admin(self) -> AIOKafkaAdminClient:
        from aiokafka.admin import AIOKafkaAdminClient  # loaded only when used

        return AIOKafkaAdminClient(
            bootstrap_servers=self.bootstrap,
            request_timeout_ms=5000,
            client_id="callstream-stack",
        )

    async def ready(self) -> None:
        admin = self._admin()
        try:
            await asyncio.wait_for(admin.start(), timeout=10)
            cluster = await asyncio.wait_for(admin.describe_cluster(), timeout=10)
        finally:
            await admin.close()
        if not cluster.get("brokers"):
            raise StackError("kafka answered without any broker in its metadata")

    async def provision(self) -> None:
        if not self.topics:
            return
        from aiokafka.admin import NewTopic

        admin = self._admin()
        try:
            await asyncio.wait_for(admin.start(), timeout=10)
            existing = set(await admin.list_topics())
            missing = [t for t in self.topics if t.name not in existing]
            if not missing:
                return
            response = await admin.create_topics(
                [NewTopic(t.name, t.partitions, 1, topic_configs=dict(t.configs)) for t in missing],
                timeout_ms=15000,
            )
            failures = [
                f"{err[0]}: error {err[1]} {err[2] if len(err) > 2 else ''}".strip()
                for err in response.topic_errors
                if err[1] not in (0, TOPIC_ALREADY_EXISTS)
            ]
            if failures:
                raise StackError("kafka topic creation failed: " + "; ".join(failures))
        finally:
            await admin.close()

    def _running_libs(self) -> Path:
        """The jar folder of the running broker, read from its command line."""
        pid = self.tracked_process().pid()
        if pid is not None:
            try:
                args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                args = []
            for flag, value in itertools.pairwise(args):
                if flag == b"-cp":
                    return Path(value.decode().removesuffix("/*"))
        return self.settings.kafka_libs_dir

    async def version(self) -> str:
        version, commit = read_kafka_version(self._running_libs())
        return f"{self.product} {version} (commit {commit})"
