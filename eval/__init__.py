"""Quality evaluation: labelled synthetic sales calls, transcription WER and MEDDIC accuracy.

``python -m eval.generate`` synthesises the calls of ``eval/scripts/``; ``python -m eval.run``
transcribes them with the built-in Whisper and scores the analyzers against the ground truth.
See ``eval/README.md``.
"""
