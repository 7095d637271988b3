"""Synthetic read-side data, written fast with PostgreSQL's COPY: teams, reps,
opportunities, conversations with transcripts and analyses.

Used by ``bench/read_api.py`` (100,000 calls) and by the read-side integration tests
(a few dozen). Rows look like the pipeline's: the summary on the conversation, the full
analysis with evidence and gaps in ``meddic_analyses``, a transcript whose text some
calls use to talk about pricing (and, when the plan names a tracker, that tracker's hits
in those calls, said by the prospect, the rep or both).
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg

from callstream_common.contracts import MeddicDimension

STATUSES = ("Strong", "Medium", "Weak", "At Risk")
WORDS = (
    "we discussed the rollout timeline and the onboarding plan for the sales team "
    "our main pain is manual reporting which costs hours every week the team lead "
    "wants a dashboard and the director signs off on new tools after a security review"
).split()
PRICING = "the pricing for the annual licence and the discount for three years".split()
COMPANIES = ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka")


@dataclass
class SeedPlan:
    reps: list[tuple[str, str | None]]
    """(rep_id, team_id) of every rep to create."""
    opportunities: int
    conversations: int
    days: int = 180
    prefix: str = ""
    seed: int = 7
    completed_share: float = 0.97
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    tracker: str | None = None
    """A tracker's name: the calls that talk pricing get hits of it."""


@dataclass
class Seeded:
    conversation_ids: list[uuid.UUID]
    opportunity_ids: list[uuid.UUID]
    rep_of_opportunity: dict[uuid.UUID, str]
    rep_of_conversation: dict[uuid.UUID, str]
    hit_roles: dict[uuid.UUID, frozenset[str]] = field(default_factory=dict)
    """Per call with hits of the plan's tracker: the roles that said them."""


HIT_ROLES = (frozenset({"prospect"}), frozenset({"rep"}), frozenset({"prospect", "rep"}))


def _hits(tracker: str, roles: frozenset[str]) -> list[dict[str, object]]:
    """Hits as the analyzer stores them, one per role that talked pricing."""
    return [
        {
            "tracker": tracker,
            "kind": "keyword",
            "phrase": "pricing",
            "quote": "the pricing for the annual licence",
            "start": 30.0 + n * 60,
            "end": 33.0 + n * 60,
            "speaker": f"SPEAKER_{n}",
            "role": role,
            "score": 1.0,
        }
        for n, role in enumerate(sorted(roles))
    ]


def bench_plan(conversations: int = 100_000) -> SeedPlan:
    reps: list[tuple[str, str | None]] = [
        (f"rep-{i:03d}", f"team-{i % 50:02d}") for i in range(500)
    ]
    return SeedPlan(
        reps=reps, opportunities=max(1, conversations // 5), conversations=conversations
    )


def _analysis(
    rng: random.Random, score_bias: float
) -> tuple[dict[str, object], list[dict[str, object]]]:
    dims: list[dict[str, object]] = []
    scores: dict[str, int] = {}
    for d in MeddicDimension:
        score = max(1, min(5, round(rng.gauss(3 + score_bias, 1))))
        scores[d.value] = score
        dims.append(
            {
                "dimension": d.value,
                "score": score,
                "evidence": [{"quote": f"about {d.value.replace('_', ' ')}", "start": 12.0}],
                "gaps": [] if score >= 4 else [f"confirm {d.value.replace('_', ' ')}"],
                "recommendations": [],
                "rationale": "",
            }
        )
    overall = round(sum(scores.values()) / len(scores), 2)
    status = STATUSES[0 if overall >= 4 else 1 if overall >= 3 else 2 if overall >= 2 else 3]
    summary = {
        "overall_score": overall,
        "qualification_status": status,
        "scores": scores,
        "top_risks": ["budget not confirmed"],
        "next_steps": ["book a demo with the director"],
    }
    return summary, dims


async def seed(dsn: str, plan: SeedPlan) -> Seeded:
    """Write the plan with COPY in one transaction; returns the ids created."""
    rng = random.Random(plan.seed)
    teams = sorted({t for _, t in plan.reps if t})
    opp_ids = [uuid.uuid4() for _ in range(plan.opportunities)]
    opp_rep = {o: plan.reps[i % len(plan.reps)][0] for i, o in enumerate(opp_ids)}
    opp_rows, conv_rows, transcript_rows, analysis_rows = [], [], [], []
    opp_names = {o: f"{plan.prefix}Deal {i}" for i, o in enumerate(opp_ids)}
    opp_company = {o: COMPANIES[i % len(COMPANIES)] for i, o in enumerate(opp_ids)}
    conv_ids: list[uuid.UUID] = []
    conv_rep: dict[uuid.UUID, str] = {}
    last_call: dict[uuid.UUID, datetime] = {}
    hit_roles: dict[uuid.UUID, frozenset[str]] = {}
    span = timedelta(days=plan.days).total_seconds()
    for n in range(plan.conversations):
        cid = uuid.uuid4()
        opp = opp_ids[n % len(opp_ids)]
        rep = opp_rep[opp]
        created = plan.now - timedelta(seconds=span * (1 - n / max(1, plan.conversations)))
        last_call[opp] = max(last_call.get(opp, created), created)
        roll = rng.random()
        completed = roll < plan.completed_share
        status = "completed" if completed else ("failed" if roll < 0.985 else "pending")
        summary, dims = _analysis(rng, (hash(rep) % 3 - 1) * 0.3) if completed else (None, [])
        conv_rows.append(
            (
                cid,
                status,
                opp_names[opp],
                opp,
                opp_company[opp],
                rep,
                f"{plan.prefix}Call {n} with {opp_company[opp]}",
                f"recordings/seed/{cid}.wav",
                "audio/wav",
                1_000_000,
                "0" * 64,
                5,
                600.0 + n % 1200,
                json.dumps(summary) if summary else None,
                "{}",
                created,
                created + timedelta(minutes=3),
                created + timedelta(minutes=3) if status != "pending" else None,
                "analysis: permanent: seeded failure" if status == "failed" else None,
            )
        )
        conv_ids.append(cid)
        conv_rep[cid] = rep
        if completed:
            words = [rng.choice(WORDS) for _ in range(60)]
            hits: list[dict[str, object]] | None = None
            if rng.random() < 0.5:
                words += PRICING
                if plan.tracker:
                    hit_roles[cid] = HIT_ROLES[len(hit_roles) % len(HIT_ROLES)]
                    hits = _hits(plan.tracker, hit_roles[cid])
            text = " ".join(words)
            transcript_rows.append(
                (
                    uuid.uuid4(),
                    cid,
                    "en",
                    600.0,
                    text,
                    json.dumps([{"start": 0.0, "end": 600.0, "text": text, "speaker": "prospect"}]),
                    "builtin",
                    "seed",
                    created,
                )
            )
            analysis_rows.append(
                (
                    uuid.uuid4(),
                    cid,
                    summary["overall_score"],  # type: ignore[index]
                    summary["qualification_status"],  # type: ignore[index]
                    json.dumps(dims),
                    json.dumps(["seeded"]),
                    json.dumps([{"action": "book a demo", "priority": "high"}]),
                    json.dumps([{"description": "budget not confirmed", "severity": "medium"}]),
                    "{}",
                    json.dumps(hits) if hits is not None else None,
                    "builtin",
                    "seed",
                    1,
                    created,
                )
            )
    for o in opp_ids:
        key = f"{opp_rep[o]}|{opp_names[o].lower()}|{opp_company[o].lower()}"
        opp_rows.append(
            (o, opp_rep[o], opp_names[o], opp_company[o], key, last_call.get(o), plan.now)
        )
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.executemany(
                "INSERT INTO teams (id, name) VALUES ($1, $1) ON CONFLICT DO NOTHING",
                [(t,) for t in teams],
            )
            await conn.executemany(
                "INSERT INTO reps (id, name, team_id) VALUES ($1, $1, $2) "
                "ON CONFLICT (id) DO NOTHING",
                plan.reps,
            )
            await conn.copy_records_to_table(
                "opportunities",
                records=opp_rows,
                columns=[
                    "id",
                    "rep_id",
                    "name",
                    "company_name",
                    "match_key",
                    "last_call_at",
                    "created_at",
                ],
            )
            await conn.copy_records_to_table(
                "conversations",
                records=conv_rows,
                columns=[
                    "id",
                    "status",
                    "opportunity_name",
                    "opportunity_id",
                    "company_name",
                    "rep_id",
                    "title",
                    "object_key",
                    "content_type",
                    "size_bytes",
                    "sha256",
                    "priority",
                    "duration_seconds",
                    "analysis_summary",
                    "timings",
                    "created_at",
                    "updated_at",
                    "completed_at",
                    "failure_reason",
                ],
            )
            await conn.copy_records_to_table(
                "transcripts",
                records=transcript_rows,
                columns=[
                    "id",
                    "conversation_id",
                    "language",
                    "duration_seconds",
                    "text",
                    "segments",
                    "provider",
                    "model",
                    "created_at",
                ],
            )
            await conn.copy_records_to_table(
                "meddic_analyses",
                records=analysis_rows,
                columns=[
                    "id",
                    "conversation_id",
                    "overall_score",
                    "qualification_status",
                    "dimensions",
                    "key_findings",
                    "next_steps",
                    "risks",
                    "agent_outputs",
                    "trackers",
                    "provider",
                    "model",
                    "version",
                    "created_at",
                ],
            )
        # VACUUM as well as ANALYZE: what autovacuum does within a minute of the load, so the
        # visibility map is as in a database that has been running (index-only scans need it).
        await conn.execute(
            "VACUUM (ANALYZE) conversations, transcripts, opportunities, meddic_analyses"
        )
    finally:
        await conn.close()
    return Seeded(conv_ids, opp_ids, opp_rep, conv_rep, hit_roles)
