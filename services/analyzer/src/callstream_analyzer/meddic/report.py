"""Report text: facts of the whole call, gaps, recommendations, key findings, next steps
and risks, each pointing at the moment in the call it comes from."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from callstream_analyzer.meddic.lexicon import (
    COMPETITOR,
    FACETS,
    MONEY,
    NAME_STOP,
    NEXT_STEP,
    OBJECTION,
    TITLE,
)
from callstream_analyzer.meddic.sentences import Role, Sentence
from callstream_analyzer.meddic.signals import DimensionResult, Signal
from callstream_common.contracts import (
    MeddicDimension,
    NextStep,
    Priority,
    QualificationStatus,
    Risk,
)

D = MeddicDimension


def fmt_ts(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = int(seconds)
    return (
        f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
        if s >= 3600
        else f"{s // 60:02d}:{s % 60:02d}"
    )


def short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


@dataclass(frozen=True)
class CallContext:
    """Facts pulled from the whole call that make gaps and next steps specific."""

    largest_amount: str | None
    competitor_quotes: tuple[Sentence, ...]
    objection_quotes: tuple[Sentence, ...]
    agreed_steps: tuple[Sentence, ...]
    titles: tuple[str, ...]

    @classmethod
    def from_sentences(cls, sentences: Sequence[Sentence]) -> CallContext:
        amounts: list[tuple[float, str]] = []
        for s in sentences:
            for m in MONEY.finditer(s.text):
                amounts.append((_amount_value(m.group()), m.group().strip()))
        voiced = [s for s in sentences if not (s.role is Role.REP and s.is_question)]
        titles = Counter(
            m.group().strip()
            for s in sentences
            if s.role is not Role.REP
            for m in TITLE.finditer(s.text)
            if m.group().lower() not in {"board", "partner", "partners", "leadership"}
        )
        tail_start = sentences[int(len(sentences) * 0.6)].index if sentences else 0
        steps = [
            s
            for s in sentences
            if not s.is_question and s.index >= tail_start and NEXT_STEP.search(s.text)
        ]
        return cls(
            largest_amount=max(amounts)[1] if amounts else None,
            competitor_quotes=tuple(
                s for s in voiced if s.role is not Role.REP and COMPETITOR.search(s.text)
            ),
            objection_quotes=tuple(
                s for s in voiced if s.role is not Role.REP and OBJECTION.search(s.text)
            ),
            agreed_steps=tuple(steps[-3:]),
            titles=tuple(t for t, _ in titles.most_common(3)),
        )


_PERSON = re.compile(r"\b([A-Z][a-z]+(?: [A-Z][a-z]+)?)\b")


def buyer_reference(signals: Sequence[Signal], ctx: CallContext) -> str:
    """How to refer to the economic buyer in advice: their name if the prospect said it,
    else the title most mentioned, else a generic phrase."""
    for s in sorted(signals, key=lambda s: -s.weight):
        if s.negative or s.sentence.role is Role.REP:
            continue
        for m in _PERSON.finditer(s.sentence.text):
            first = m.group(1).split()[0]
            if m.start() > 0 and first not in NAME_STOP:
                return m.group(1)
            if m.start() == 0 and first not in NAME_STOP and " " in m.group(1):
                return m.group(1)
    if ctx.titles:
        return f"the {ctx.titles[0]}"
    return "the budget holder"


def _amount_value(text: str) -> float:
    t = text.lower().replace(",", "")
    m = re.search(r"\d+(?:\.\d+)?", t)
    value = float(m.group()) if m else 1.0
    if re.search(r"\b(?:k|thousand|grand)\b|\dk\b", t):
        value *= 1e3
    if re.search(r"\b(?:m|mm|million)\b|\dm\b", t):
        value *= 1e6
    if re.search(r"\b(?:bn|billion)\b", t):
        value *= 1e9
    return value


_GAP_TEXT: Mapping[MeddicDimension, Mapping[str, tuple[str, str]]] = {
    D.METRICS: {
        "quantified": (
            "No quantified outcome: the call has no number for the value of solving this.",
            "Ask for today's figure and the target (e.g. hours per rep per week, win rate, "
            "churn) and what closing that gap is worth in money.",
        ),
        "target": (
            "No target or expected improvement was stated.",
            "Ask what result would make this project a success in 6-12 months and how they "
            "will measure it.",
        ),
        "baseline": (
            "No baseline: today's performance was not quantified.",
            "Ask how they measure this today and what the current number is.",
        ),
        "financial": (
            "The value is not tied to money (revenue, cost, ROI).",
            "Translate the improvement into dollars with the prospect and agree on an ROI "
            "figure they would present internally.",
        ),
    },
    D.ECONOMIC_BUYER: {
        "role": (
            "No economic buyer identified.",
            "Ask who signs off on budgets {amount} and who else must approve the purchase.",
        ),
        "named person": (
            "The economic buyer is not named.",
            "Ask for the name of the person who approves the spend ({title}) and whether they "
            "know about this evaluation.",
        ),
        "authority": (
            "Budget authority is unconfirmed: nobody said who has the final say.",
            "Confirm who has the final say and the approval threshold (e.g. purchases {amount}).",
        ),
        "access": (
            "No access to the economic buyer yet.",
            "Ask your contact to set up a 20-minute meeting with {title} before the proposal.",
        ),
    },
    D.DECISION_CRITERIA: {
        "explicit criteria": (
            "Decision criteria were not made explicit.",
            "Ask what must be true for them to choose a vendor and which criteria are "
            "must-haves versus nice-to-haves.",
        ),
        "technical": (
            "Technical requirements (integrations, security, compliance) are unknown.",
            "Ask which systems it must integrate with and what security review it must pass.",
        ),
        "commercial": (
            "Commercial criteria (price, contract terms, support) were not discussed.",
            "Ask how price and contract terms will be weighed and what budget range is expected.",
        ),
        "evaluation": (
            "No view of how options will be compared or which vendors are in play.",
            "Ask who else they are evaluating and how they will rank the options.",
        ),
    },
    D.DECISION_PROCESS: {
        "steps": (
            "The steps to a decision (pilot, review, proposal) are unknown.",
            "Map the process with the prospect: what happens between now and a signed "
            "contract, step by step.",
        ),
        "approvals": (
            "Approval steps (legal, procurement, security review) were not covered.",
            "Ask whether legal, procurement or security must review and how long each usually "
            "takes.",
        ),
        "timeline": (
            "No timeline or decision date.",
            "Ask for the date they want to be live and work back to a decision date together.",
        ),
        "stakeholders": (
            "Who takes part in the decision is unclear.",
            "Ask who else is involved in the decision (IT, finance, legal) and what each of "
            "them needs to see.",
        ),
    },
    D.IDENTIFY_PAIN: {
        "problem": (
            "No business problem was stated by the prospect.",
            "Ask what is not working today and what prompted them to take this call now.",
        ),
        "impact": (
            "The impact of the problem is not quantified.",
            "Ask what the problem costs them (lost deals, hours, churn) per month.",
        ),
        "urgency": (
            "No urgency: nothing says why this must be solved now.",
            "Ask what happens if nothing changes this quarter and what deadline is driving it.",
        ),
        "personal": (
            "No personal stake: unclear how the problem affects your contact.",
            "Ask how the problem affects them and their team day to day.",
        ),
    },
    D.CHAMPION: {
        "commitment": (
            "No champion: nobody committed to drive this internally.",
            "Ask your contact whether they will sponsor this internally and what they need "
            "from you to make the case.",
        ),
        "influence": (
            "The contact's influence on the decision is unknown.",
            "Ask how decisions like this were made before and what role your contact played.",
        ),
        "access": (
            "Nobody offered to introduce you to other stakeholders.",
            "Ask your contact to introduce you to {title} and the other people involved.",
        ),
        "personal win": (
            "No personal win for the contact is visible.",
            "Ask what success would mean for them personally (time saved, targets hit).",
        ),
    },
}

_NEGATIVE_GAP: Mapping[MeddicDimension, str] = {
    D.METRICS: "The prospect does not track or know the relevant numbers",
    D.ECONOMIC_BUYER: "The prospect is unsure who approves the budget",
    D.DECISION_CRITERIA: "The prospect has no defined criteria yet",
    D.DECISION_PROCESS: "The prospect does not know the decision process or timeline",
    D.IDENTIFY_PAIN: "The prospect plays the problem down",
    D.CHAMPION: "Nobody is ready to push this internally",
}


def gaps_and_recommendations(
    d: MeddicDimension,
    score: int,
    facets: frozenset[str],
    negatives: Sequence[Signal],
    ctx: CallContext,
    buyer: str,
) -> tuple[list[str], list[str]]:
    """Gaps name what is missing (at most three), recommendations say what to ask next;
    ``buyer`` is whoever the call points at as the economic buyer, to make them concrete."""
    amount = f"over {ctx.largest_amount}" if ctx.largest_amount else "of this size"
    fill = {"amount": amount, "title": buyer}
    gaps: list[str] = []
    recs: list[str] = []
    if negatives:
        s = negatives[0].sentence
        gaps.append(f'{_NEGATIVE_GAP[d]}: "{short(s.text, 120)}" ({fmt_ts(s.start)}).')
    if score == 1:
        first = next(iter(FACETS[d]))
        gap, rec = _GAP_TEXT[d][first]
        gaps.append(
            f"{d.title} was not discussed. {gap}" if gap else f"{d.title} was not discussed."
        )
        recs.append(rec.format(**fill))
        missing = [f for f in FACETS[d] if f != first]
    else:
        missing = [f for f in FACETS[d] if f not in facets]
    if score >= 5:
        return gaps, recs
    if score > 1 and not missing and not negatives:
        gaps.append(f"{d.title} rests on a single statement that nobody else confirmed.")
        recs.append(
            f"Confirm the {d.title.lower()} details in the written recap and with a second "
            "stakeholder."
        )
    for f in missing[: 3 if score > 1 else 2]:
        gap, rec = _GAP_TEXT[d][f]
        if score > 1:
            gaps.append(gap)
        recs.append(rec.format(**fill))
    return gaps[:3], recs[:3]


def key_findings(
    results: Mapping[MeddicDimension, DimensionResult],
    overall: float,
    status: QualificationStatus,
    ctx: CallContext,
) -> list[str]:
    ordered = sorted(results.values(), key=lambda r: -r.assessment.score)
    strong = [r for r in ordered if r.assessment.score >= 4]
    weak = [r for r in ordered if r.assessment.score <= 2]

    def listing(rs: Iterable[DimensionResult]) -> str:
        return ", ".join(f"{r.assessment.dimension.title} {r.assessment.score}/5" for r in rs)

    best = [r for r in ordered[:2] if r.assessment.score >= 3]
    headline = f"{status.value} qualification, overall {overall:.1f}/5"
    if best:
        headline += f"; strongest: {listing(best)}"
    worst = [r for r in reversed(ordered[-2:]) if r.assessment.score <= 3]
    if worst:
        headline += f"; weakest: {listing(worst)}"
    findings = [headline + "."]
    quoted: set[str] = set()
    for r in strong[:3]:
        ev = r.assessment.evidence[0]
        if ev.quote in quoted:
            continue
        quoted.add(ev.quote)
        findings.append(
            f'{r.assessment.dimension.title}: "{short(ev.quote, 140)}" ({fmt_ts(ev.start)}).'
        )
    missing = [r.assessment.dimension.title for r in weak if r.assessment.score == 1]
    if missing:
        findings.append(f"Not discussed at all: {', '.join(missing)}.")
    if ctx.competitor_quotes:
        s = ctx.competitor_quotes[0]
        findings.append(f'Competitive situation: "{short(s.text, 140)}" ({fmt_ts(s.start)}).')
    if ctx.agreed_steps:
        s = ctx.agreed_steps[-1]
        findings.append(f'Agreed next step: "{short(s.text, 140)}" ({fmt_ts(s.start)}).')
    return findings


def next_steps(
    results: Mapping[MeddicDimension, DimensionResult], ctx: CallContext
) -> list[NextStep]:
    steps: list[NextStep] = []
    for s in ctx.agreed_steps[-2:]:
        steps.append(
            NextStep(
                action=f'Do what was agreed at {fmt_ts(s.start)}: "{short(s.text, 140)}"',
                priority=Priority.HIGH,
            )
        )
    critical = {D.ECONOMIC_BUYER, D.IDENTIFY_PAIN, D.CHAMPION}
    ordered = sorted(
        results.values(),
        key=lambda r: (r.assessment.score, r.assessment.dimension not in critical),
    )
    for r in ordered:
        a = r.assessment
        if a.score >= 5 or not a.recommendations:
            continue
        if a.score == 1 or (a.score == 2 and a.dimension in critical):
            priority = Priority.HIGH
        elif a.score == 2:
            priority = Priority.MEDIUM
        else:  # 3, or 4 with a facet still open
            priority = Priority.LOW
        steps.append(
            NextStep(action=f"{a.dimension.title}: {a.recommendations[0]}", priority=priority)
        )
    return steps[:6]


_RISK_TEXT: Mapping[MeddicDimension, str] = {
    D.METRICS: "No quantified value: the price will be hard to justify and easy to cut.",
    D.ECONOMIC_BUYER: "No confirmed economic buyer: the deal can stall at budget approval.",
    D.DECISION_CRITERIA: "Decision criteria unknown: a competitor may be shaping them.",
    D.DECISION_PROCESS: "Decision process and timeline unknown: the close date is a guess.",
    D.IDENTIFY_PAIN: "No compelling pain: high risk of 'no decision'.",
    D.CHAMPION: "No internal champion: nobody will sell this when you are not in the room.",
}


def risks(results: Mapping[MeddicDimension, DimensionResult], ctx: CallContext) -> list[Risk]:
    risks: list[Risk] = []
    for s in ctx.objection_quotes[:2]:
        risks.append(
            Risk(
                description=f'Objection or blocker raised: "{short(s.text, 140)}" '
                f"({fmt_ts(s.start)}).",
                severity=Priority.HIGH,
            )
        )
    critical = {D.ECONOMIC_BUYER, D.IDENTIFY_PAIN, D.CHAMPION}
    for r in sorted(results.values(), key=lambda r: r.assessment.score):
        a = r.assessment
        if a.score > 2:
            continue
        high = a.score == 1 and a.dimension in critical
        medium = a.score == 1 or a.dimension in critical
        severity = Priority.HIGH if high else Priority.MEDIUM if medium else Priority.LOW
        risks.append(Risk(description=_RISK_TEXT[a.dimension], severity=severity))
    if ctx.competitor_quotes:
        s = ctx.competitor_quotes[0]
        risks.append(
            Risk(
                description=f'Competitive evaluation: "{short(s.text, 140)}" ({fmt_ts(s.start)}).',
                severity=Priority.MEDIUM,
            )
        )
    order = {Priority.HIGH: 0, Priority.MEDIUM: 1, Priority.LOW: 2}
    return sorted(risks, key=lambda r: order[r.severity])
