"""The built-in analyzer: sentences → roles → signals → scores → report."""

from __future__ import annotations

from typing import Protocol

from callstream_analyzer.meddic.classifier import Embedder, PrototypeClassifier
from callstream_analyzer.meddic.policy import AnalyzerConfig
from callstream_analyzer.meddic.report import (
    CallContext,
    buyer_reference,
    key_findings,
    next_steps,
    risks,
)
from callstream_analyzer.meddic.roles import sentences_with_roles
from callstream_analyzer.meddic.scoring import assess
from callstream_analyzer.meddic.signals import SignalExtractor
from callstream_common.contracts import MeddicAnalysis, MeddicDimension, Transcript

PROVIDER = "builtin"
MODEL = "meddic-rules+minilm-l6-int8"

D = MeddicDimension


class Analyzer(Protocol):
    """Anything that turns a transcript into a MEDDIC scorecard (built-in or an LLM)."""

    def analyze(self, transcript: Transcript) -> MeddicAnalysis: ...


class BuiltinMeddicAnalyzer:
    """The offline analyzer: prototypes + lexical cues + rules. Deterministic for a given
    embedder; safe to share between threads (no mutable state after the first call except the
    cached prototype matrix, which is computed idempotently)."""

    provider = PROVIDER
    model = MODEL

    def __init__(self, embedder: Embedder, config: AnalyzerConfig | None = None) -> None:
        self._config = config or AnalyzerConfig()
        self._signals = SignalExtractor(PrototypeClassifier(embedder), self._config)

    def analyze(self, transcript: Transcript) -> MeddicAnalysis:
        cfg = self._config
        sentences, roles = sentences_with_roles(transcript)
        per_dim = self._signals.extract(sentences, roles_certain=roles.certain)
        ctx = CallContext.from_sentences(sentences)
        buyer = buyer_reference(per_dim[list(MeddicDimension).index(D.ECONOMIC_BUYER)], ctx)
        results = {d: assess(d, per_dim[k], ctx, buyer, cfg) for k, d in enumerate(MeddicDimension)}
        scores = {d: r.assessment.score for d, r in results.items()}
        total_weight = sum(cfg.weights[d] for d in MeddicDimension)
        overall = round(sum(cfg.weights[d] * scores[d] for d in MeddicDimension) / total_weight, 2)
        status = cfg.status_policy.status(overall, scores.values())
        return MeddicAnalysis(
            dimensions=[results[d].assessment for d in MeddicDimension],
            overall_score=min(max(overall, 1.0), 5.0),
            qualification_status=status,
            key_findings=key_findings(results, overall, status, ctx),
            next_steps=next_steps(results, ctx),
            risks=risks(results, ctx),
            provider=PROVIDER,
            model=MODEL,
            agent_outputs={
                "method": "prototype similarity (all-MiniLM-L6-v2) + lexical cues + rules",
                "sentences": len(sentences),
                "roles": {
                    "method": roles.method,
                    "speakers": {str(k): v.value for k, v in roles.roles.items()},
                },
                "facets": {d.value: sorted(r.facets) for d, r in results.items()},
                "evidence_counts": {d.value: len(r.signals) for d, r in results.items()},
                "weights": {d.value: w for d, w in cfg.weights.items()},
                "language": transcript.language,
            },
        )
