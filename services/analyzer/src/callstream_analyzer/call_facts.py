"""Facts of a call that do not depend on which analyzer scored it: statistics and trackers.

``CallFactsAnalyzer`` wraps any analyzer (built-in or LLM) and adds ``stats`` and
``trackers`` to its scorecard, so the figures are the same whoever scores the call. The
tracker definitions come from ``trackers``, a callable the service wires to its tracker
store (see :mod:`callstream_analyzer.tracker_store`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from callstream_analyzer.meddic import Analyzer, Embedder, sentences_with_roles
from callstream_analyzer.stats import call_stats
from callstream_analyzer.trackers import find_hits
from callstream_common.contracts import MeddicAnalysis, TrackerDefinition, Transcript


class CallFactsAnalyzer:
    """``inner``'s scorecard plus call statistics and tracker hits."""

    def __init__(
        self,
        inner: Analyzer,
        trackers: Callable[[], Sequence[TrackerDefinition]] = tuple,
        embedder: Embedder | None = None,
    ) -> None:
        self.inner = inner
        self._trackers = trackers
        self._embedder = embedder
        self.provider = getattr(inner, "provider", "")
        self.model = getattr(inner, "model", "")

    def analyze(self, transcript: Transcript) -> MeddicAnalysis:
        analysis = self.inner.analyze(transcript)
        sentences, roles = sentences_with_roles(transcript)
        return analysis.model_copy(
            update={
                "stats": call_stats(transcript, sentences, roles.roles),
                "trackers": find_hits(list(self._trackers()), sentences, self._embedder),
            }
        )
