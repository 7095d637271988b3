"""MEDDIC qualification of a sales call, offline: no LLM, no network, no I/O.

How the built-in analyzer works, and why:

1. **Sentences with time and speaker.** Consecutive segments of one speaker are joined into a
   turn (ASR segments often cut a sentence in two), the turn is split into sentences, and each
   sentence gets its start/end by interpolating character offsets inside the segments it spans,
   so every quote can point at the moment it was said.
2. **Who is the rep.** Speaker labels that say so ("Rep", "AE", "Customer", ...) decide; else
   the speaker who asks the most questions and talks about "our product/platform/pricing" is
   the rep. With one speaker or none (ASR without diarization) roles stay unknown and only the
   question/statement distinction is used. The assignment is reported in ``agent_outputs``.
3. **Labelling sentences by dimension** combines two independent signals, so that neither a
   paraphrase without keywords nor a keyword in an unrelated sentence decides alone:
   *semantic* — a softmax over the sentence's similarity (all-MiniLM-L6-v2) to ~10 prototype
   sentences per dimension, to small-talk/pitch prototypes and to a "none of these" level, so
   a sentence counts only if it is clearly closer to one dimension than to the rest; and
   *lexical* — weighted cue patterns (money, percentages, "CFO", "sign off", "must have",
   "procurement", "frustrating", "I'll push internally", ...). They are combined as a noisy-or
   into a confidence per dimension. A sentence may support several dimensions, but a secondary
   one needs 65% of the sentence's best confidence (or a strong cue of its own), and Metrics
   always needs a cue (a number or a measure). Context counts: a prospect's answer right after
   a rep question about D borrows part of that question's topic ("That would be Dana."), and
   "she/he" right after an economic-buyer statement continues it. Back-channel ("Okay.",
   "Sure.") is never evidence.
4. **Who said it.** Only what the prospect says is evidence (:mod:`.replies`). The rep's
   questions and claims never are; they only give a topic to the prospect's answer. A short
   reply to the rep counts by what it does: confirming the rep's summary or yes/no question
   ("yes, exactly") makes it the prospect's statement (on its own at most 3); acknowledging a
   claim ("right", "probably") or a vague answer ("a fair bit") touches the topic on (2); a
   "no" or "no idea" touches it on as a gap; "okay" to a wh-question or to a pitch of several
   sentences counts for nothing. A prospect's question counts half, except a question about
   what the product can do ("can it run offline?"), which states a requirement. Without
   diarization a sentence in the seller's voice ("our platform…", "firms like yours…") is
   taken for the rep's. Sentences that express not knowing or deflect ("not sure who signs
   off", "let's cover that later") and pain that is played down ("it's fine, we get by") are
   *negative* evidence: they show the topic came up and name the gap, but cannot lift a score
   above 2 and lower a higher one. Every evidence item carries the speaker, their role and
   the start/end of the sentence quoted.
5. **Scoring 1-5** per dimension: 1 not discussed (by the prospect); 2 touched on (only
   acknowledged, vague, asked or negative evidence); 3 the prospect spoke to it; 4 specifics
   (numbers, names, dates) and three facets, or two facets over two statements; 5 all four
   facets, specifics and at least two statements that are mainly about this dimension.
   Facets are what a complete answer covers, e.g. Economic Buyer: role, named person,
   authority, access. Missing facets become the gaps and recommendations, so every score is
   explained by its evidence and by what is absent.
6. **Overall** is the weighted mean of the six scores (Identify Pain and Economic Buyer weigh
   1.25, Decision Criteria 0.75, the others 1 — no pain or no buyer means no deal, while
   criteria are often set later); the qualification status follows ``StatusPolicy``.

Modules: ``sentences`` and ``roles`` (1-2), ``replies`` (4), ``lexicon`` and ``prototypes``
(the data of 3), ``classifier`` and ``signals`` (3-4), ``scoring`` and ``policy`` (5-6),
``report`` (gaps, recommendations, findings, next steps, risks) and ``analyzer`` (the
pipeline). The factory that picks built-in or LLM lives in :mod:`callstream_analyzer.factory`.
"""

from callstream_analyzer.meddic.analyzer import MODEL, PROVIDER, Analyzer, BuiltinMeddicAnalyzer
from callstream_analyzer.meddic.classifier import Embedder, PrototypeClassifier
from callstream_analyzer.meddic.lexicon import CUES, FACETS
from callstream_analyzer.meddic.policy import (
    DEFAULT_WEIGHTS,
    AnalyzerConfig,
    StatusPolicy,
    weighted_overall,
)
from callstream_analyzer.meddic.prototypes import BACKGROUND, PROTOTYPES
from callstream_analyzer.meddic.report import fmt_ts
from callstream_analyzer.meddic.roles import RoleAssignment, assign_roles, sentences_with_roles
from callstream_analyzer.meddic.sentences import Role, Sentence, split_sentences

__all__ = [
    "BACKGROUND",
    "CUES",
    "DEFAULT_WEIGHTS",
    "FACETS",
    "MODEL",
    "PROTOTYPES",
    "PROVIDER",
    "Analyzer",
    "AnalyzerConfig",
    "BuiltinMeddicAnalyzer",
    "Embedder",
    "PrototypeClassifier",
    "Role",
    "RoleAssignment",
    "Sentence",
    "StatusPolicy",
    "assign_roles",
    "fmt_ts",
    "sentences_with_roles",
    "split_sentences",
    "weighted_overall",
]
