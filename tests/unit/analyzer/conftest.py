from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np
import pytest
from numpy.typing import NDArray

from callstream_analyzer.embeddings import MiniLMEmbedder
from callstream_analyzer.meddic import BuiltinMeddicAnalyzer


class HashingEmbedder:
    """Deterministic stand-in for the MiniLM embedder: a hashed bag of crude word stems, so
    cosine similarity is word overlap. It lets domain tests run without the model and pins
    down what the lexical side of the analyzer does on its own."""

    dimension = 512

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9']+", text.lower()):
                stem = re.sub(r"(ing|ed|es|s)$", "", word) or word
                h = int.from_bytes(hashlib.blake2b(stem.encode(), digest_size=8).digest(), "big")
                out[i, h % self.dimension] += 1.0
            norm = float(np.linalg.norm(out[i]))
            if norm:
                out[i] /= norm
        return out


@pytest.fixture(scope="session")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@pytest.fixture(scope="session")
def real_analyzer(minilm: MiniLMEmbedder) -> BuiltinMeddicAnalyzer:
    return BuiltinMeddicAnalyzer(minilm)


@pytest.fixture(scope="session")
def fake_analyzer() -> BuiltinMeddicAnalyzer:
    return BuiltinMeddicAnalyzer(HashingEmbedder())
