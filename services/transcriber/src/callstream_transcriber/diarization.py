"""Who spoke when in a mono recording, on the CPU, without any downloaded model.

Method: classic feature clustering. Every second of speech (windows of 1.5 s, hop 0.5 s) is
described by the mean and spread of its MFCCs (the short-term spectral envelope, which is
where two voices differ: vocal tract length, timbre, pitch range); the windows are clustered
agglomeratively (Ward); "one speaker" unless the dendrogram shows a clear gap, and then
2..``max_speakers`` groups, the number chosen by silhouette. Labels are smoothed over neighbouring
windows and then given to Whisper's words by the time of each word, so a speaker change can
fall inside a Whisper segment.

Why this and not a neural speaker-embedding model: the registries offer no such model that
ships its weights inside a package without torch (pyannote, SpeechBrain, Resemblyzer and
WeSpeaker all download or need torch); MFCC statistics plus clustering are what diarization
used before embeddings, need only numpy, SciPy and scikit-learn, cost well under 1% of the Whisper
time, and on two voices that differ in timbre they separate cleanly. Their limits: voices of
very similar timbre, overlap (one label per moment) and channel changes mid-call. The eval
measures the diarization error rate (DER) against the all-one-speaker baseline.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from callstream_common.contracts import Diarization
from callstream_transcriber.segments import TimedWord, label_words

FloatArray = npt.NDArray[np.float32]

SAMPLE_RATE = 16_000
_FRAME = 400  # 25 ms analysis frames
_HOP = 160  # 10 ms hop: 100 frames per second
_N_FFT = 512
_N_MELS = 40
_N_MFCC = 20
_BLOCK_FRAMES = 1000
"""Frames analysed at once (10 s): bounds the spectra's memory to tens of megabytes."""
_N_FEATURES = _N_MFCC  # MFCC 1..19 and the median log pitch
PITCH_WEIGHT = 1.0
"""Weight of the pitch among the standardised features (the MFCCs count one each)."""
WINDOW_SECONDS = 1.5
HOP_SECONDS = 0.5
SPLIT_RATIO = 1.3
"""The dendrogram's last merge must cost this many times the one before for two voices."""
SPLIT_MARGIN = 0.02
"""Silhouette a third (fourth) speaker must add over one fewer."""
MAX_CLUSTERED_WINDOWS = 2400
"""Windows clustered at most (20 minutes of speech at one window per 0.5 s): bounds the
quadratic memory of the agglomeration for a call of any length."""


def _mel_filterbank() -> npt.NDArray[np.float64]:
    def hz_to_mel(hz: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return 2595.0 * np.log10(1.0 + hz / 700.0)

    def mel_to_hz(mel: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return 700.0 * (10 ** (mel / 2595.0) - 1.0)

    edges = mel_to_hz(
        np.linspace(hz_to_mel(np.array(60.0)), hz_to_mel(np.array(7600.0)), _N_MELS + 2)
    )
    bins = np.floor((_N_FFT + 1) * edges / SAMPLE_RATE).astype(int)
    bank = np.zeros((_N_MELS, _N_FFT // 2 + 1))
    for m in range(1, _N_MELS + 1):
        left, centre, right = bins[m - 1], bins[m], bins[m + 1]
        for k in range(left, centre):
            bank[m - 1, k] = (k - left) / max(centre - left, 1)
        for k in range(centre, right):
            bank[m - 1, k] = (right - k) / max(right - centre, 1)
    return bank


_MEL = _mel_filterbank()
_DCT = np.cos(np.pi / _N_MELS * (np.arange(_N_MELS)[None, :] + 0.5) * np.arange(_N_MFCC)[:, None])


def log_pitch(samples: FloatArray, n_frames: int) -> npt.NDArray[np.float64]:
    """(n_frames,) log F0 per 10-ms frame by autocorrelation (70-400 Hz), NaN where unvoiced."""
    length = 640  # 40 ms: two periods of a 70-Hz voice
    n = min(n_frames, 1 + (len(samples) - length) // _HOP if len(samples) >= length else 0)
    out = np.full(n_frames, np.nan)
    lo, hi = SAMPLE_RATE // 400, SAMPLE_RATE // 70
    for first, frames in _framed(samples, n, length):
        frames -= frames.mean(axis=1, keepdims=True)
        ac = np.fft.irfft(np.abs(np.fft.rfft(frames, 2048)) ** 2)[:, :length]
        lag = lo + np.argmax(ac[:, lo:hi], axis=1)
        strength = ac[np.arange(len(frames)), lag] / (ac[:, 0] + 1e-12)
        out[first : first + len(frames)] = np.where(
            strength > 0.5, np.log(SAMPLE_RATE / lag), np.nan
        )
    return out


def mfcc_frames(samples: FloatArray) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(frames, 19) MFCCs without c0 and (frames,) log energy, at 100 frames per second."""
    n = 1 + (len(samples) - _FRAME) // _HOP if len(samples) >= _FRAME else 0
    ceps = np.zeros((n, _N_MFCC - 1))
    energy = np.zeros(n)
    window = np.hamming(_FRAME)
    for first, frames in _framed(samples, n, _FRAME):
        frames *= window
        power = np.abs(np.fft.rfft(frames, _N_FFT)) ** 2
        log_mel = np.log(power @ _MEL.T + 1e-10)
        rows = slice(first, first + len(frames))
        ceps[rows] = (log_mel @ _DCT.T)[:, 1:]
        energy[rows] = np.log(np.mean(frames**2, axis=1) + 1e-12)
    return ceps, energy


def _framed(
    samples: FloatArray, n: int, length: int
) -> Iterator[tuple[int, npt.NDArray[np.float64]]]:
    """The first ``n`` frames of ``length`` samples every 10 ms, ``_BLOCK_FRAMES`` at a time
    (index of the first, frames as rows): the spectra of a 5-minute chunk's frames at once
    would take over a gigabyte."""
    for first in range(0, n, _BLOCK_FRAMES):
        count = min(_BLOCK_FRAMES, n - first)
        idx = np.arange(length)[None, :] + _HOP * np.arange(first, first + count)[:, None]
        yield first, samples[idx].astype(np.float64)


@dataclass(frozen=True)
class SpeechWindows:
    """Windows of speech (start times, seconds; feature vectors) and the speech frames
    (start times of the 10-ms frames that are speech), for one stretch or a whole call."""

    starts: npt.NDArray[np.float64]
    features: npt.NDArray[np.float64]
    speech_frames: npt.NDArray[np.float64]

    @staticmethod
    def empty() -> SpeechWindows:
        return SpeechWindows(np.zeros(0), np.zeros((0, _N_FEATURES)), np.zeros(0))

    def __add__(self, other: SpeechWindows) -> SpeechWindows:
        return SpeechWindows(
            np.concatenate([self.starts, other.starts]),
            np.concatenate([self.features, other.features]),
            np.concatenate([self.speech_frames, other.speech_frames]),
        )

    def to_bytes(self) -> bytes:
        """Compact storage form (compressed ``.npz``, float32: 10-ms and feature precision
        need no more) of a chunk's windows, so the speakers of a call split across
        transcribers can be clustered over the whole call once its chunks are in."""
        buf = io.BytesIO()
        np.savez_compressed(
            buf,
            starts=self.starts.astype(np.float32),
            features=self.features.astype(np.float32),
            speech_frames=self.speech_frames.astype(np.float32),
        )
        return buf.getvalue()

    @staticmethod
    def from_bytes(data: bytes) -> SpeechWindows:
        with np.load(io.BytesIO(data)) as arrays:
            return SpeechWindows(
                arrays["starts"].astype(np.float64),
                arrays["features"].astype(np.float64).reshape(-1, _N_FEATURES),
                arrays["speech_frames"].astype(np.float64),
            )


def speech_windows(samples: FloatArray, offset: float = 0.0) -> SpeechWindows:
    """Feature vectors of the windows of ``samples`` that are mostly speech.

    A frame is speech when its energy is within 35 dB of the loud frames of this stretch
    (the 95th percentile): robust to the recording's level and to digital silence. The
    feature is the mean MFCC of the window's speech frames (the spread mostly follows what
    is said, not who says it, and made the clusters less separable in our measurements).
    """
    ceps, energy = mfcc_frames(samples)
    if len(energy) == 0:
        return SpeechWindows.empty()
    voiced = energy > np.percentile(energy, 95) - 8.0  # ln units: ~35 dB
    pitch = log_pitch(samples, len(energy))
    per_window = int(WINDOW_SECONDS * 100)
    step = int(HOP_SECONDS * 100)
    starts: list[float] = []
    feats: list[npt.NDArray[np.float64]] = []
    for a in range(0, max(len(energy) - per_window // 2, 1), step):
        mask = voiced[a : a + per_window]
        if mask.sum() < 0.5 * min(per_window, len(mask)) or mask.sum() < 20:
            continue
        starts.append(offset + a / 100.0)
        f0 = pitch[a : a + per_window][mask]
        f0 = f0[~np.isnan(f0)]
        voice = float(np.median(f0)) if len(f0) >= 10 else np.nan
        feats.append(np.concatenate([ceps[a : a + per_window][mask].mean(axis=0), [voice]]))
    frames = offset + np.flatnonzero(voiced) / 100.0
    if not feats:
        return SpeechWindows(np.zeros(0), np.zeros((0, _N_FEATURES)), frames)
    return SpeechWindows(np.array(starts), np.array(feats), frames)


def cluster_windows(windows: SpeechWindows, max_speakers: int = 4) -> npt.NDArray[np.int64]:
    """A speaker index per window (0 = the first to speak).

    Ward agglomeration of the standardised features. More than one speaker only when the
    last merge of the dendrogram costs clearly more than the one before (``SPLIT_RATIO``:
    two voices leave a gap, one voice merges smoothly); then the number of speakers is the
    2..``max_speakers`` with the best silhouette, a further speaker having to beat the
    previous count by ``SPLIT_MARGIN``.

    Ward's linkage and the silhouette hold every pair of windows in memory (quadratic): a
    2-hour call has ~10,000 speech windows, 0.4 GB of distances and over 1 GB of silhouette
    work. So at most ``MAX_CLUSTERED_WINDOWS`` windows, evenly spread over the call, are
    clustered, and every window then takes the speaker whose centre is nearest.
    """
    n = len(windows.starts)
    if n < 6:
        return np.zeros(n, np.int64)
    x = _standardised(windows.features)
    sample = np.unique(np.linspace(0, n - 1, min(n, MAX_CLUSTERED_WINDOWS)).astype(np.int64))
    sampled = _ward_speakers(x[sample], max_speakers)
    labels = sampled if len(sample) == n else _nearest_centre(x, x[sample], sampled)
    return _smooth(_first_come_order(labels))


def _standardised(features: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Zero mean, unit variance per feature; an unknown pitch takes the mean pitch."""
    x = features.copy()
    pitch = x[:, -1]
    known = ~np.isnan(pitch)
    x[:, -1] = np.where(known, pitch, pitch[known].mean() if known.any() else 0.0)
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-9)
    x[:, -1] *= PITCH_WEIGHT
    return x


def _ward_speakers(x: npt.NDArray[np.float64], max_speakers: int) -> npt.NDArray[np.int64]:
    from scipy.cluster.hierarchy import fcluster, linkage
    from sklearn.metrics import silhouette_score

    n = len(x)
    best_labels = np.zeros(n, np.int64)
    if n < 6:
        return best_labels
    tree = linkage(x, method="ward")
    heights = tree[:, 2]
    if heights[-1] < SPLIT_RATIO * heights[-2]:
        return best_labels
    best_score = -1.0
    for k in range(2, min(max_speakers, n - 1) + 1):
        labels = fcluster(tree, t=k, criterion="maxclust").astype(np.int64) - 1
        if len(set(labels.tolist())) < k or min(np.bincount(labels)) < max(3, 0.03 * n):
            continue  # a "speaker" of a few windows is an outlier, not a voice
        score = float(silhouette_score(x, labels))
        if score > best_score + (SPLIT_MARGIN if k > 2 else 0.0):
            best_score, best_labels = score, labels
    return best_labels


def _nearest_centre(
    x: npt.NDArray[np.float64], sample: npt.NDArray[np.float64], labels: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Each row of ``x`` labelled with the cluster of ``sample`` whose mean is nearest."""
    ids = np.unique(labels)
    centres = np.stack([sample[labels == i].mean(axis=0) for i in ids])
    distances = ((x[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    return ids[distances.argmin(axis=1)].astype(np.int64)


def _first_come_order(labels: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    order = {lab: i for i, lab in enumerate(dict.fromkeys(labels.tolist()))}
    return np.array([order[lab] for lab in labels.tolist()], np.int64)


def _smooth(labels: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """A single window between two windows of one other speaker takes their label."""
    out = labels.copy()
    for i in range(1, len(labels) - 1):
        if labels[i - 1] == labels[i + 1] != labels[i]:
            out[i] = labels[i - 1]
    return out


@dataclass(frozen=True)
class SpeakerTurn:
    start: float
    end: float
    speaker: int


def speaker_turns(
    windows: SpeechWindows, labels: Sequence[int], max_gap: float = 0.3
) -> list[SpeakerTurn]:
    """Stretches of speech of one speaker: every speech frame takes the label of the window
    whose centre is nearest, and frames of one label less than ``max_gap`` apart join."""
    if len(windows.starts) == 0 or len(windows.speech_frames) == 0:
        return []
    centres = windows.starts + WINDOW_SECONDS / 2
    order = np.argsort(centres)
    centres, ordered = centres[order], np.asarray(labels)[order]
    frames = np.sort(windows.speech_frames)
    pos = np.clip(np.searchsorted(centres, frames), 1, len(centres) - 1)
    left_closer = np.abs(frames - centres[pos - 1]) <= np.abs(frames - centres[pos])
    nearest = np.where(left_closer, pos - 1, pos)
    if len(centres) == 1:
        nearest = np.zeros(len(frames), int)
    frame_labels = ordered[nearest]
    turns: list[SpeakerTurn] = []
    for t, label in zip(frames.tolist(), frame_labels.tolist(), strict=True):
        end = t + 0.01
        if turns and turns[-1].speaker == label and t - turns[-1].end <= max_gap:
            turns[-1] = SpeakerTurn(turns[-1].start, end, label)
        else:
            turns.append(SpeakerTurn(t, end, int(label)))
    return turns


def speaker_at(turns: Sequence[SpeakerTurn], start: float, end: float) -> int | None:
    """The speaker who covers most of ``[start, end]``, else the nearest turn's speaker."""
    if not turns:
        return None
    overlap: dict[int, float] = {}
    for t in turns:
        o = min(end, t.end) - max(start, t.start)
        if o > 0:
            overlap[t.speaker] = overlap.get(t.speaker, 0.0) + o
    if overlap:
        return max(overlap, key=lambda s: overlap[s])
    middle = (start + end) / 2
    nearest = min(turns, key=lambda t: min(abs(t.start - middle), abs(t.end - middle)))
    return nearest.speaker


def speaker_label(index: int) -> str:
    return f"Speaker {index + 1}"


def label_speakers(
    words: list[TimedWord], speech: SpeechWindows, max_speakers: int = 4
) -> tuple[list[TimedWord], Diarization]:
    """Each word with the voice that covers it, the voices found by clustering every speech
    window of the call at once (so a label means the same voice from start to end), or the
    words unchanged when one voice (or none) is heard."""
    if not words:
        return words, Diarization.NONE
    labels = cluster_windows(speech, max_speakers)
    if len(set(labels.tolist())) < 2:
        return words, Diarization.NONE
    turns = speaker_turns(speech, labels.tolist())

    def at(start: float, end: float) -> str | None:
        index = speaker_at(turns, start, end)
        return None if index is None else speaker_label(index)

    return label_words(words, at), Diarization.CLUSTERING
