"""StackSettings: defaults, environment/.env overrides, port bookkeeping."""

from __future__ import annotations

from pathlib import Path

import pytest

from callstream_cli.stack.settings import (
    KAFKA_POM,
    WEED_GRPC_OFFSET,
    StackSettings,
    project_root,
)


def test_project_root_holds_the_kafka_pom() -> None:
    assert (project_root() / KAFKA_POM).is_file()


def test_defaults_are_the_dev_stack(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    s = StackSettings()
    assert s.stack_dir == project_root() / ".local" / "stack"
    assert s.cache_dir == project_root() / ".local" / "cache"
    assert s.host == "127.0.0.1"
    assert (s.kafka_port, s.kafka_controller_port) == (19092, 19093)
    assert (s.postgres_port, s.s3_port, s.redis_port, s.zipkin_port) == (15432, 18333, 16379, 19411)
    assert s.s3_bucket == "callstream"
    assert (s.postgres_user, s.postgres_db) == ("callstream", "callstream")


def test_every_dev_port_is_distinct() -> None:
    assert StackSettings().duplicate_ports() == {}


def test_weed_admin_grpc_port_follows_the_admin_port() -> None:
    s = StackSettings(weed_admin_port=21346)
    assert s.weed_admin_grpc_port == 21346 + WEED_GRPC_OFFSET
    assert s.all_ports()["weed admin grpc"] == 31346


def test_duplicate_ports_are_reported() -> None:
    s = StackSettings(redis_port=19092)
    assert s.duplicate_ports() == {19092: ["kafka", "redis"]}


def test_environment_overrides_use_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLSTREAM_STACK_KAFKA_PORT", "39092")
    monkeypatch.setenv("CALLSTREAM_STACK_S3_SECRET_KEY", "from-env")
    monkeypatch.setenv("CALLSTREAM_DATABASE_URL", "not-for-the-stack")  # other prefix: ignored
    s = StackSettings()
    assert s.kafka_port == 39092
    assert s.s3_secret_key.get_secret_value() == "from-env"


def test_dotenv_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "CALLSTREAM_STACK_REDIS_PORT=36379\nCALLSTREAM_STACK_STACK_DIR=/srv/stack\n"
    )
    monkeypatch.chdir(tmp_path)
    s = StackSettings()
    assert s.redis_port == 36379
    assert s.stack_dir == Path("/srv/stack")


def test_keyword_arguments_win_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLSTREAM_STACK_KAFKA_PORT", "39092")
    assert StackSettings(kafka_port=29092).kafka_port == 29092


def test_secrets_stay_out_of_repr() -> None:
    s = StackSettings(s3_secret_key="hush-s3", postgres_password="hush-pg")
    text = repr(s) + str(s.model_dump())
    assert "hush-s3" not in text and "hush-pg" not in text


def test_layout_under_stack_and_cache_dirs(tmp_path: Path) -> None:
    s = StackSettings(stack_dir=tmp_path / "st", cache_dir=tmp_path / "c", kafka_version="9.9.9")
    assert s.logs_dir == tmp_path / "st" / "logs"
    assert s.run_dir == tmp_path / "st" / "run"
    assert s.component_dir("kafka") == tmp_path / "st" / "kafka"
    assert s.kafka_libs_dir == tmp_path / "c" / "kafka" / "9.9.9" / "libs"
    assert s.maven_repo == tmp_path / "c" / "m2"
    assert s.zipkin_jar.name == f"zipkin-server-{s.zipkin_version}-exec.jar"
