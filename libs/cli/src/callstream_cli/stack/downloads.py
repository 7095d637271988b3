"""Cached downloads of the Java parts (Kafka jars, Zipkin jar) from Maven Central.

Only package registries are reachable from our machines, so Kafka is assembled from its Maven
artifacts instead of the binary tarball. Downloads go to the cache folder, are published with
an atomic rename (an interrupted download never looks complete) and are serialised by a file
lock, because two Maven processes writing one local repository at once can corrupt it (the dev
and test stacks share the cache).
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from callstream_cli.stack.settings import StackSettings

MAVEN_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"


class DownloadError(RuntimeError):
    """Maven could not fetch an artifact."""


@contextlib.contextmanager
def _maven_lock(settings: StackSettings) -> Iterator[None]:
    settings.cache_dir.mkdir(parents=True, exist_ok=True)
    with (settings.cache_dir / "maven.lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _run_maven(settings: StackSettings, args: list[str]) -> None:
    mvn = shutil.which(settings.mvn_bin)
    if mvn is None:
        raise DownloadError(f"{settings.mvn_bin!r} not found; run scripts/bootstrap.sh")
    cmd = [mvn, "-q", "-B", f"-Dmaven.repo.local={settings.maven_repo}", *args]
    # Run from the cache folder so that no stray pom.xml in the working directory is picked up.
    result = subprocess.run(
        cmd, capture_output=True, text=True, check=False, cwd=settings.cache_dir
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()[-4000:]
        raise DownloadError(f"maven failed ({' '.join(cmd)}):\n{output}")


def ensure_kafka_libs(settings: StackSettings) -> Path:
    """Return the folder of Kafka's jars, resolving them with ``infra/kafka/pom.xml`` once."""
    libs = settings.kafka_libs_dir
    if libs.is_dir() and any(libs.glob("kafka_2.13-*.jar")):
        return libs
    if not settings.kafka_pom.is_file():
        raise DownloadError(f"Kafka pom not found at {settings.kafka_pom}")
    with _maven_lock(settings):
        if libs.is_dir() and any(libs.glob("kafka_2.13-*.jar")):
            return libs
        libs.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".libs-", dir=libs.parent))
        try:
            _run_maven(
                settings,
                [
                    "-f",
                    str(settings.kafka_pom),
                    f"-Dkafka.version={settings.kafka_version}",
                    f"{MAVEN_DEPENDENCY_PLUGIN}:copy-dependencies",
                    "-DincludeScope=runtime",
                    f"-DoutputDirectory={staging}",
                ],
            )
            if not any(staging.glob("kafka_2.13-*.jar")):
                raise DownloadError(f"maven produced no kafka_2.13 jar in {staging}")
            shutil.rmtree(libs, ignore_errors=True)
            staging.rename(libs)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return libs


def ensure_zipkin_jar(settings: StackSettings) -> Path:
    """Return the path of Zipkin's executable jar, fetching it from Maven Central once."""
    jar = settings.zipkin_jar
    if jar.is_file():
        return jar
    with _maven_lock(settings):
        if jar.is_file():
            return jar
        jar.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".zipkin-", dir=jar.parent))
        try:
            _run_maven(
                settings,
                [
                    f"{MAVEN_DEPENDENCY_PLUGIN}:copy",
                    f"-Dartifact=io.zipkin:zipkin-server:{settings.zipkin_version}:jar:exec",
                    f"-DoutputDirectory={staging}",
                ],
            )
            fetched = staging / jar.name
            if not fetched.is_file():
                raise DownloadError(f"maven did not produce {jar.name}")
            fetched.rename(jar)
            # The jar (125 MB) now lives in the cache; drop Maven's copy rather than keep two.
            shutil.rmtree(
                settings.maven_repo / "io" / "zipkin" / "zipkin-server" / settings.zipkin_version,
                ignore_errors=True,
            )
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return jar
