"""The real all-MiniLM-L6-v2 int8 model, run by onnxruntime from the installed package."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from callstream_analyzer.embeddings import (
    DIMENSION,
    EmbeddingModelError,
    MiniLMEmbedder,
    build_tokenizer,
    default_vocab_path,
)

SENTENCES = [
    "Our CFO has to approve every purchase over fifty thousand dollars.",
    "Any spend above $50k needs sign-off from the chief financial officer.",
    "We keep losing deals because follow-ups fall through the cracks.",
    "Opportunities slip away since nobody follows up on time.",
    "The weather in Lisbon was lovely this weekend.",
    "My daughter just started learning the piano.",
]

# Pairwise cosines of SENTENCES from the original fp32 weights of all-MiniLM-L6-v2 (an
# independent numpy forward pass of the published safetensors, mean pooling, L2 norm).
REFERENCE_COSINES = {
    (0, 1): 0.569,
    (0, 2): 0.239,
    (0, 3): -0.005,
    (0, 4): -0.048,
    (0, 5): 0.056,
    (1, 2): 0.163,
    (1, 3): 0.134,
    (1, 4): -0.039,
    (1, 5): 0.026,
    (2, 3): 0.405,
    (2, 4): -0.020,
    (2, 5): -0.022,
    (3, 4): 0.035,
    (3, 5): -0.006,
    (4, 5): 0.063,
}


def test_tokenizer_is_bert_uncased_wordpiece() -> None:
    tok = build_tokenizer(default_vocab_path())
    assert tok.encode("Hello, World!").ids == [101, 7592, 1010, 2088, 999, 102]
    assert tok.get_vocab_size() == 30522
    # accents are stripped with lower-casing, as in BERT uncased
    assert tok.encode("Café").tokens == ["[CLS]", "cafe", "[SEP]"]


def test_vectors_are_unit_length_float32(minilm: MiniLMEmbedder) -> None:
    v = minilm.embed(SENTENCES)
    assert v.shape == (len(SENTENCES), DIMENSION)
    assert v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert minilm.embed([]).shape == (0, DIMENSION)


def test_similarity_matches_the_original_model(minilm: MiniLMEmbedder) -> None:
    v = minilm.embed(SENTENCES)
    sims = v @ v.T
    for (i, j), expected in REFERENCE_COSINES.items():
        assert sims[i, j] == pytest.approx(expected, abs=0.02), (i, j)


def test_paraphrases_are_close_and_unrelated_far(minilm: MiniLMEmbedder) -> None:
    v = minilm.embed(SENTENCES)
    sims = v @ v.T
    assert sims[0, 1] > 0.5  # CFO approval, two wordings
    assert sims[2, 3] > 0.35  # lost deals through missed follow-ups
    unrelated = [sims[i, j] for i in range(4) for j in (4, 5)]
    assert max(unrelated) < 0.15
    assert min(sims[0, 1], sims[2, 3]) > max(unrelated) + 0.25


def test_batching_and_padding_do_not_change_vectors(minilm: MiniLMEmbedder) -> None:
    alone = minilm.embed([SENTENCES[4]])[0]
    long_text = " ".join(SENTENCES * 3)
    batched = MiniLMEmbedder(batch_size=2).embed([long_text, SENTENCES[4], "ok"])[1]
    assert float(alone @ batched) > 0.9999


def test_long_text_is_truncated_not_rejected(minilm: MiniLMEmbedder) -> None:
    v = minilm.embed(["word " * 2000])
    assert np.isfinite(v).all()


def test_model_digest_is_checked(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingModelError, match="sha256"):
        MiniLMEmbedder(model_sha256="0" * 64)
    with pytest.raises(EmbeddingModelError, match="not found"):
        MiniLMEmbedder(model_path=tmp_path / "missing.onnx")


def test_vocabulary_digest_is_checked(tmp_path: Path) -> None:
    vocab = tmp_path / "vocab.txt"
    shutil.copy(default_vocab_path(), vocab)
    with vocab.open("a") as fh:
        fh.write("extra\n")
    with pytest.raises(EmbeddingModelError, match="WordPiece vocabulary"):
        MiniLMEmbedder(vocab_path=vocab)
