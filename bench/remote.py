"""Remote providers: what concurrent stages gain when every stage waits on the network.

    python -m bench.remote [--smoke] [--keep] [--calls 24] [--concurrency 8]

The pipeline runs with its remote providers pointed at local fakes answering with realistic
latency: speech-to-text (Groq/OpenAI-compatible) in 3 s, the LLM analysis in 2 s, Slack in
300 ms. A burst of calls is uploaded at once (the end-of-day upload) and the time until the
last scorecard is posted is measured, first with every stage handling one record at a time
(``CALLSTREAM_STAGE_CONCURRENCY=1``), then with the default concurrency, in the same run on
the same stack: the ratio is the gain.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.common import (
    Chart,
    Series,
    arg_parser,
    bench_services,
    console,
    fmt_ms,
    fmt_ratio,
    print_table,
    ratio,
    save_results,
    summarize,
)
from bench.pipeline import (
    PIPELINE_SERVICES,
    STAGE_GROUPS,
    Call,
    PipelineConfig,
    PipelineDriver,
    skip_backlog,
)
from callstream_common.settings import CommonSettings
from tests.support.fake_providers import FakeProviders
from tests.support.fake_slack import FakeSlack

TRANSCRIPTION_LATENCY = 3.0
CHAT_LATENCY = 2.0
SLACK_LATENCY = 0.3


@dataclass
class BurstResult:
    concurrency: int
    calls: int
    completed: int
    wall_seconds: float
    latencies: list[float]

    @property
    def calls_per_second(self) -> float:
        return self.completed / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage_concurrency": self.concurrency,
            "calls": self.calls,
            "completed": self.completed,
            "wall_seconds": self.wall_seconds,
            "calls_per_second": self.calls_per_second,
            "latency_seconds": summarize(self.latencies).to_dict() if self.latencies else None,
        }


def provider_env(fake: FakeProviders, slack: FakeSlack) -> dict[str, str]:
    return {
        "CALLSTREAM_TRANSCRIBER_PROVIDER": "openai",
        "CALLSTREAM_TRANSCRIBER_BASE_URL": fake.base_url,
        "CALLSTREAM_TRANSCRIBER_API_KEY": "fake-groq-key",
        "CALLSTREAM_TRANSCRIBER_MODEL": "whisper-large-v3-turbo",
        "CALLSTREAM_ANALYZER_PROVIDER": "openai",
        "CALLSTREAM_ANALYZER_BASE_URL": fake.base_url,
        "CALLSTREAM_ANALYZER_API_KEY": "fake-openai-key",
        "CALLSTREAM_SLACK_BOT_TOKEN": slack.bot_token,
        "CALLSTREAM_SLACK_CHANNEL": "#deals",
        "CALLSTREAM_SLACK_API_BASE_URL": slack.api_url,
    }


async def burst(
    driver: PipelineDriver, count: int, wait_seconds: float
) -> tuple[float, list[Call]]:
    calls = [Call(started=time.time()) for _ in range(count)]
    began = time.time()
    await asyncio.gather(*(driver.upload(c) for c in calls))
    await driver.wait_done(calls, time.monotonic() + wait_seconds)
    ends = [_completed_at(c) for c in calls if c.status == "completed" and c.view is not None]
    return (max(ends) - began if ends else float("nan")), calls


def _completed_at(call: Call) -> float:
    from datetime import datetime

    assert call.view is not None
    return datetime.fromisoformat(call.view["completed_at"]).timestamp()


def run_one(concurrency: int | None, env: dict[str, str], calls: int, keep: bool) -> BurstResult:
    label = concurrency or CommonSettings().stage_concurrency
    extra = dict(env)
    if concurrency is not None:
        extra["CALLSTREAM_STAGE_CONCURRENCY"] = str(concurrency)

    def prepare(endpoints: Any) -> None:
        asyncio.run(skip_backlog(endpoints.kafka_bootstrap, STAGE_GROUPS))

    with bench_services(PIPELINE_SERVICES, extra, keep=keep, prepare=prepare) as target:

        async def go() -> BurstResult:
            driver = PipelineDriver(target, PipelineConfig())
            try:
                _, warm = await burst(driver, 1, 120)
                if not all(c.status == "completed" for c in warm):
                    raise RuntimeError(f"warm-up call ended {warm[0].status}")
                console.print(f"concurrency {label}: {calls} calls at once")
                timeout = calls * (TRANSCRIPTION_LATENCY + CHAT_LATENCY) * 3 + 120
                wall, done = await burst(driver, calls, timeout)
            finally:
                await driver.aclose()
            ok = [c for c in done if c.status == "completed" and c.view is not None]
            return BurstResult(
                label, calls, len(ok), wall, [_completed_at(c) - c.started for c in ok]
            )

        return asyncio.run(go())


def report(results: Sequence[BurstResult]) -> None:
    base = results[0]
    print_table(
        f"Remote providers (speech-to-text {TRANSCRIPTION_LATENCY:g} s, LLM {CHAT_LATENCY:g} s, "
        f"Slack {SLACK_LATENCY * 1000:.0f} ms): a burst of calls, concurrency 1 vs default",
        ["stage concurrency", "done", "wall", "calls/s", "p50", "p99", "calls/s vs 1"],
        [
            (
                str(r.concurrency),
                f"{r.completed}/{r.calls}",
                f"{r.wall_seconds:.1f} s",
                f"{r.calls_per_second:.2f}",
                fmt_ms(summarize(r.latencies).p50 if r.latencies else None),
                fmt_ms(summarize(r.latencies).p99 if r.latencies else None),
                fmt_ratio(ratio(r.calls_per_second, base.calls_per_second)),
            )
            for r in results
        ],
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = arg_parser(__doc__.splitlines()[0] if __doc__ else "remote providers benchmark")
    parser.add_argument("--calls", type=int, default=None)
    parser.add_argument("--concurrency", type=int, default=None, help="the run to compare with 1")
    args = parser.parse_args(argv)
    calls = args.calls or (4 if args.smoke else 24)
    with (
        FakeProviders(
            transcription_latency=TRANSCRIPTION_LATENCY, chat_latency=CHAT_LATENCY
        ) as fake,
        FakeSlack(latency=SLACK_LATENCY, channels=None) as slack,
    ):
        env = provider_env(fake, slack)
        results = [
            run_one(1, env, calls, keep=True),
            run_one(args.concurrency, env, calls, keep=args.keep),
        ]
        console.print(f"fake providers answered {fake.counts}; Slack got {len(slack.messages)}")
    report(results)
    doc = {
        "latency_seconds": {
            "transcription": TRANSCRIPTION_LATENCY,
            "chat": CHAT_LATENCY,
            "slack": SLACK_LATENCY,
        },
        "runs": [r.to_dict() for r in results],
        "gain_calls_per_second": ratio(results[1].calls_per_second, results[0].calls_per_second),
    }
    chart = Chart(
        "burst throughput by stage concurrency",
        "stage concurrency",
        "calls/s",
        [
            Series(
                "calls/s", [r.concurrency for r in results], [r.calls_per_second for r in results]
            )
        ],
    )
    paths = save_results("remote", doc, [chart])
    console.print("saved " + ", ".join(str(p) for p in paths if "latest" not in p.name))


if __name__ == "__main__":
    main()
