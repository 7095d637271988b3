"""Similarity of sentences to the dimension and background prototypes (the semantic signal)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from callstream_analyzer.meddic.prototypes import BACKGROUND, PROTOTYPES
from callstream_common.contracts import MeddicDimension


class Embedder(Protocol):
    """Texts to L2-normalised vectors, one row per text (dot product = cosine).

    The real one is :class:`callstream_analyzer.embeddings.MiniLMEmbedder`; tests may pass a
    deterministic fake. Defined here so the domain does not import onnxruntime.
    """

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]: ...


class PrototypeClassifier:
    """Semantic side of the labelling: similarity of each sentence to each dimension's
    prototypes (mean of the two best matches, steadier than the single best) and to the
    background prototypes."""

    def __init__(
        self,
        embedder: Embedder,
        prototypes: Mapping[MeddicDimension, Sequence[str]] = PROTOTYPES,
        background: Sequence[str] = BACKGROUND,
    ) -> None:
        self._embedder = embedder
        self._dims = list(MeddicDimension)
        self._prototypes = {d: list(prototypes[d]) for d in self._dims}
        self._background = list(background)
        self._matrix: NDArray[np.float32] | None = None
        self._owner: list[int] = []

    def _prepare(self) -> NDArray[np.float32]:
        if self._matrix is None:
            texts: list[str] = []
            owner: list[int] = []
            for k, d in enumerate(self._dims):
                texts += self._prototypes[d]
                owner += [k] * len(self._prototypes[d])
            texts += self._background
            owner += [len(self._dims)] * len(self._background)
            self._matrix = self._embedder.embed(texts)
            self._owner = owner
        return self._matrix

    def similarities(self, texts: Sequence[str]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """(n, 6) similarity per dimension in ``MeddicDimension`` order, and (n,) to background."""
        matrix = self._prepare()
        n = len(texts)
        if n == 0:
            return np.zeros((0, len(self._dims)), np.float32), np.zeros(0, np.float32)
        unique = list(dict.fromkeys(texts))  # calls repeat "Okay." and "Yeah, exactly." a lot
        row_of = {t: i for i, t in enumerate(unique)}
        sims = (self._embedder.embed(unique) @ matrix.T)[[row_of[t] for t in texts]]
        owner = np.array(self._owner)
        per_dim = np.zeros((n, len(self._dims)), np.float32)
        for k in range(len(self._dims)):
            cols = np.sort(sims[:, owner == k], axis=1)
            per_dim[:, k] = cols[:, -2:].mean(axis=1)
        background = np.sort(sims[:, owner == len(self._dims)], axis=1)[:, -2:].mean(axis=1)
        return per_dim, background.astype(np.float32)
