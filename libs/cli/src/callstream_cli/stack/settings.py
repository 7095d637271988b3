"""Configuration of the local stack.

Every port is a setting (not derived from a base port) so that two stacks, the developer's and
the one the test suite starts, can run side by side: each of them must own a disjoint set of
ports, including SeaweedFS's many internal HTTP and gRPC ports.
"""

from __future__ import annotations

import functools
import hashlib
import re
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

#: File whose presence marks the repository root (the stack needs the Kafka pom from there).
KAFKA_POM = Path("infra") / "kafka" / "pom.xml"

#: SeaweedFS's `weed mini` starts a maintenance worker that dials the admin server's gRPC port
#: as "admin HTTP port + 10000", whatever `-admin.port.grpc` says; the gRPC port therefore
#: has to be exactly that offset (see StackSettings.weed_admin_grpc_port).
WEED_GRPC_OFFSET = 10000


@functools.cache
def project_root() -> Path:
    """Return the repository root: the nearest ancestor holding ``infra/kafka/pom.xml``.

    Looked up from this file first (the CLI is installed in editable mode from the workspace)
    and then from the working directory, so that a copy installed elsewhere still finds the
    repository it is run in.
    """
    for start in (Path(__file__).resolve().parent, Path.cwd().resolve()):
        for candidate in (start, *start.parents):
            if (candidate / KAFKA_POM).is_file():
                return candidate
    return Path.cwd().resolve()


def _default_stack_dir() -> Path:
    return project_root() / ".local" / "stack"


def _default_cache_dir() -> Path:
    return project_root() / ".local" / "cache"


def _default_kafka_pom() -> Path:
    return project_root() / KAFKA_POM


class StackSettings(BaseSettings):
    """Where the local stack lives, which ports it uses and which credentials it sets up.

    Read from ``CALLSTREAM_STACK_*`` environment variables and ``.env``; explicit keyword
    arguments win, which is how the test suite starts its own stack on other ports.
    """

    model_config = SettingsConfigDict(
        env_prefix="CALLSTREAM_STACK_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    stack_dir: Path = Field(
        default_factory=_default_stack_dir,
        description="Runtime state: data, configuration, logs and pidfiles (git-ignored).",
    )
    cache_dir: Path = Field(
        default_factory=_default_cache_dir,
        description="Downloads (Maven repository, Kafka jars, Zipkin jar), shared by stacks.",
    )
    kafka_pom: Path = Field(default_factory=_default_kafka_pom)
    host: str = "127.0.0.1"

    # Apache Kafka (KRaft, one combined broker + controller node)
    kafka_version: str = "4.3.1"
    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    kafka_heap: str = "512m"

    # PostgreSQL
    postgres_port: int = 15432
    postgres_user: str = "callstream"
    postgres_password: SecretStr = SecretStr("callstream")
    postgres_db: str = "callstream"
    postgres_bin_dir: Path | None = Field(
        default=None, description="Directory with initdb/postgres; found if not set."
    )
    postgres_nice: int = Field(
        default=0,
        ge=0,
        le=19,
        description="Niceness PostgreSQL runs at (0: that of the stack). On one small machine "
        "shared with ingest, 10 lets a cached read be answered before the database's long "
        "queries (a search, an admin dashboard) get the CPU back; it changes nothing while a "
        "CPU is free.",
    )
    postgres_state_root: Path = Field(
        default=Path("/var/lib/callstream/stacks"),
        description="Where PostgreSQL's data and socket live when the stack runs as root: the "
        "server runs as the `postgres` user, which cannot reach a checkout under a private "
        "folder (a 0700 home or mktemp directory), so each stack gets its own folder here, "
        "keyed by its stack folder's path.",
    )

    # S3 API (SeaweedFS `weed mini`): the S3 port plus every internal port it opens
    s3_port: int = 18333
    s3_access_key: SecretStr = SecretStr("callstream")
    s3_secret_key: SecretStr = SecretStr("callstream-dev-secret")
    s3_bucket: str = "callstream"
    weed_s3_grpc_port: int = 18334
    weed_master_port: int = 18330
    weed_master_grpc_port: int = 18331
    weed_volume_port: int = 18340
    weed_volume_grpc_port: int = 18341
    weed_filer_port: int = 18388
    weed_filer_grpc_port: int = 18389
    #: Outside the 18xxx block on purpose: its gRPC twin is this + 10000 (27346), which must not
    #: land on a port a second stack uses; 18346 would give 28346, the obvious choice of a test
    #: stack that shifts every dev port by 10000.
    weed_admin_port: int = 17346

    # Redis
    redis_port: int = 16379

    # Zipkin
    zipkin_version: str = "3.5.1"
    zipkin_port: int = 19411
    zipkin_heap: str = "256m"
    zipkin_max_spans: int = 50_000

    # Tools
    java_bin: str = "java"
    mvn_bin: str = "mvn"
    redis_server_bin: str = "redis-server"
    health_timeout: float = Field(
        default=180.0,
        description="Seconds to wait for a started component to become healthy (JVMs boot "
        "slowly on a busy 2-core machine).",
    )

    @property
    def weed_admin_grpc_port(self) -> int:
        """The admin gRPC port, bound to the admin HTTP port (see WEED_GRPC_OFFSET)."""
        return self.weed_admin_port + WEED_GRPC_OFFSET

    def all_ports(self) -> dict[str, int]:
        """Every TCP port the stack listens on, by purpose (used to detect clashes)."""
        return {
            "kafka": self.kafka_port,
            "kafka controller": self.kafka_controller_port,
            "postgres": self.postgres_port,
            "s3": self.s3_port,
            "weed s3 grpc": self.weed_s3_grpc_port,
            "weed master": self.weed_master_port,
            "weed master grpc": self.weed_master_grpc_port,
            "weed volume": self.weed_volume_port,
            "weed volume grpc": self.weed_volume_grpc_port,
            "weed filer": self.weed_filer_port,
            "weed filer grpc": self.weed_filer_grpc_port,
            "weed admin": self.weed_admin_port,
            "weed admin grpc": self.weed_admin_grpc_port,
            "redis": self.redis_port,
            "zipkin": self.zipkin_port,
        }

    def duplicate_ports(self) -> dict[int, list[str]]:
        """Ports claimed by more than one purpose; empty when the configuration is sound."""
        by_port: dict[int, list[str]] = {}
        for purpose, port in self.all_ports().items():
            by_port.setdefault(port, []).append(purpose)
        return {port: names for port, names in by_port.items() if len(names) > 1}

    # Layout of the stack folder -------------------------------------------------------------

    @property
    def logs_dir(self) -> Path:
        return self.stack_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.stack_dir / "run"

    def component_dir(self, name: str) -> Path:
        return self.stack_dir / name

    def system_state_dir(self) -> Path:
        """This stack's own folder under ``postgres_state_root``.

        Keyed by a hash of the stack folder's resolved path, so two checkouts (or a dev and a
        test stack) never share one; the readable prefix says whose it is at a glance.
        """
        resolved = self.stack_dir.resolve()
        digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:12]
        label = re.sub(r"[^A-Za-z0-9_-]+", "-", "-".join(resolved.parts[-3:]))
        return self.postgres_state_root / f"{label.strip('-')[:20]}-{digest}"

    # Layout of the cache folder -------------------------------------------------------------

    @property
    def maven_repo(self) -> Path:
        return self.cache_dir / "m2"

    @property
    def kafka_libs_dir(self) -> Path:
        return self.cache_dir / "kafka" / self.kafka_version / "libs"

    @property
    def zipkin_jar(self) -> Path:
        return self.cache_dir / "zipkin" / f"zipkin-server-{self.zipkin_version}-exec.jar"
