"""The benchmarks' pure helpers: statistics, formatting, test audio, results on disk."""

from __future__ import annotations

import io
import json
import os
import wave
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from bench import common
from bench.common import (
    Chart,
    Series,
    fmt_mb,
    fmt_ms,
    fmt_ratio,
    percentile,
    ratio,
    read_memory_kib,
    save_results,
    summarize,
    synth_wav,
    wav_header,
)
from bench.ingest import _stream_chunks
from bench.ingest_baseline import _Reader
from bench.pipeline import (
    SEGMENTS,
    PipelineConfig,
    Step,
    event_sizes,
    json_value,
    output_rate,
    stage_segments,
)
from callstream_ingest.upload.sniff import WAV, sniff_audio


@pytest.mark.parametrize("q", [0, 1, 25, 50, 90, 95, 99, 99.9, 100])
@pytest.mark.parametrize("n", [1, 2, 7, 200, 1001])
def test_percentile_matches_numpy_linear(q: float, n: int) -> None:
    values = list(np.random.default_rng(n).exponential(0.05, n))
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_percentile_ignores_order_and_interpolates() -> None:
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([1.0, 2.0], 50) == 1.5
    assert percentile([1.0, 2.0, 3.0, 4.0], 100) == 4.0
    assert percentile([5.0], 99) == 5.0


@pytest.mark.parametrize("q", [-1, 100.5])
def test_percentile_rejects_out_of_range(q: float) -> None:
    with pytest.raises(ValueError):
        percentile([1.0], q)


def test_percentile_and_summary_reject_empty() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        summarize([])


def test_summarize() -> None:
    s = summarize([float(v) for v in range(1, 101)])
    assert (s.n, s.min, s.max, s.mean) == (100, 1.0, 100.0, 50.5)
    assert s.p50 == pytest.approx(50.5)
    assert s.p95 == pytest.approx(95.05)
    assert s.p99 == pytest.approx(99.01)
    assert set(s.to_dict()) == {"n", "mean", "p50", "p95", "p99", "min", "max"}


def test_ratio_and_formatting() -> None:
    assert ratio(3.0, 1.5) == 2.0
    assert ratio(1.0, 0.0) is None
    assert fmt_ratio(2.0) == "x2.00"
    assert fmt_ratio(None) == "-"
    assert fmt_ms(0.00123) == "1.23 ms"
    assert fmt_ms(0.1234) == "123.4 ms"
    assert fmt_ms(12.3456) == "12,346 ms"
    assert fmt_ms(None) == "-"
    assert fmt_ms(float("nan")) == "-"
    assert fmt_mb(5 * 1024 * 1024) == "5.0 MB"


def test_synth_wav_is_a_valid_wav_of_the_exact_size() -> None:
    data = synth_wav(5 * 1024 * 1024)
    assert len(data) == 5 * 1024 * 1024
    assert sniff_audio(data[:64]) == WAV
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 16_000)
        assert w.getnframes() == (len(data) - 44) // 2
        frames = np.frombuffer(w.readframes(16_000 * 2), dtype="<i2")
    assert np.abs(frames[:16_000]).max() > 5000  # a second of tone
    assert np.abs(frames[16_000:]).max() == 0  # then a second of silence


@pytest.mark.parametrize("size", [0, 45, 43])
def test_synth_wav_rejects_impossible_sizes(size: int) -> None:
    with pytest.raises(ValueError):
        synth_wav(size)


def test_wav_header_announces_sizes_beyond_what_is_written() -> None:
    header = wav_header(1024**3)
    assert len(header) == 44
    assert header[:4] == b"RIFF" and header[8:12] == b"WAVE"
    assert int.from_bytes(header[4:8], "little") == 36 + 1024**3
    assert int.from_bytes(header[40:44], "little") == 1024**3


def test_streamed_body_has_the_announced_size() -> None:
    chunks = list(_stream_chunks(1_000_044 + 10, 64 * 1024))
    assert sum(len(c) for c in chunks) == 1_000_054
    assert sniff_audio(chunks[0][:64]) == WAV
    reader = _Reader(iter(chunks))
    got = b"".join(iter(lambda: reader.read(300_000), b""))
    assert got == b"".join(chunks)


def test_read_memory_of_this_process() -> None:
    mem = read_memory_kib(os.getpid())
    assert 0 < mem["VmRSS"] <= mem["VmHWM"]


def test_save_results_writes_json_and_png(tmp_path: Path) -> None:
    chart = Chart("latency", "concurrency", "ms", [Series("p50", [1, 8, 32], [1.0, 2.0, 4.0])])
    paths = save_results("My Bench", {"value": summarize([1.0, 2.0])}, [chart], tmp_path)
    names = sorted(p.name for p in paths)
    assert "my-bench-latest.json" in names and "my-bench-latest.png" in names
    assert len(paths) == 4
    doc = json.loads((tmp_path / "my-bench-latest.json").read_text())
    assert doc["benchmark"] == "My Bench"
    assert doc["value"]["p50"] == 1.5
    assert (tmp_path / "my-bench-latest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_stack_ports_are_distinct_and_clear_of_the_other_stacks() -> None:
    from callstream_cli.stack.settings import StackSettings
    from tests.support.stack import test_stack_settings

    bench = common.bench_stack_settings()
    assert bench.duplicate_ports() == {}
    ours = set(bench.all_ports().values()) | {common.BENCH_INGEST_PORT}
    for other in (StackSettings(), test_stack_settings()):
        assert not ours & set(other.all_ports().values())
    assert max(ours - {bench.weed_admin_grpc_port}) < 32768  # below the ephemeral range
    assert bench.stack_dir.name.startswith("bench")


def test_output_rate() -> None:
    assert output_rate([10.0, 11.0, 12.0, 13.0], 4, 3.0) == pytest.approx(1.0)
    assert output_rate([5.0], 1, 0.5) == 2.0
    assert output_rate([], 0, 0.0) == 0.0


def test_a_step_sends_its_seconds_of_calls_at_least_the_minimum_at_most_the_cap() -> None:
    config = PipelineConfig()
    assert config.step_count(1, 1000) == config.min_per_step == 30
    assert config.step_count(16, 1000) == 16 * config.step_seconds
    assert config.step_count(512, 1000) == 1000
    assert PipelineConfig.smoke().step_count(1, 1000) == 2


def test_step_is_sustained_only_when_everything_completed_in_time() -> None:
    ok = Step(8, 100, 100, 0, 12.0, 7.5, summarize([0.1]))
    assert ok.sustained
    assert not Step(8, 100, 99, 0, 12.0, 8.0, None).sustained
    assert not Step(8, 100, 100, 0, 12.0, 7.0, None).sustained
    late = Step(8, 100, 100, 0, 30.0, 7.5, None)  # the uploads could not start on time
    assert not late.on_schedule and not late.sustained


def test_stage_segments() -> None:
    view = {
        "completed_at": "2026-01-15T10:00:01.000000+00:00",
        "timings": {
            "upload": {
                "started_at": "2026-01-15T10:00:00.000000+00:00",
                "finished_at": "2026-01-15T10:00:00.100000+00:00",
            },
            "transcription": {
                "started_at": "2026-01-15T10:00:00.150000+00:00",
                "finished_at": "2026-01-15T10:00:00.250000+00:00",
            },
            "analysis": {
                "started_at": "2026-01-15T10:00:00.300000+00:00",
                "finished_at": "2026-01-15T10:00:00.400000+00:00",
            },
            "notification": {
                "started_at": "2026-01-15T10:00:00.500000+00:00",
                "finished_at": "2026-01-15T10:00:00.900000+00:00",
            },
        },
    }
    started = datetime.fromisoformat("2026-01-15T09:59:59.990000+00:00").timestamp()
    seg = stage_segments(view, started)
    assert set(seg) == set(SEGMENTS)
    assert seg["upload"] == pytest.approx(0.1, abs=1e-5)
    assert seg["hop 1"] == pytest.approx(0.05, abs=1e-5)
    assert seg["hop 3"] == pytest.approx(0.1, abs=1e-5)
    assert seg["notification"] == pytest.approx(0.4, abs=1e-5)
    assert seg["total"] == pytest.approx(1.01, abs=1e-5)
    assert stage_segments({"timings": {}}, started) == {}


def test_raw_chain_values_have_the_events_sizes() -> None:
    sizes = event_sizes()
    assert all(100 < s < 2000 for s in sizes)
    for s in sizes:
        value = json_value(s)
        assert len(value) == s
        json.loads(value)
