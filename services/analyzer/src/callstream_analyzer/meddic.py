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
4. **Who said it.** A rep's question is never evidence; a rep's statement counts a third and
   alone cannot lift a dimension above 2; a prospect's question counts half. Sentences that
   express not knowing or deflect ("not sure who signs off", "let's cover that later") and
   pain that is played down ("it's fine, we get by") are *negative* evidence: they show the
   topic came up and name the gap, but cannot lift a score above 2 and lower a higher one.
5. **Scoring 1-5** per dimension: 1 not discussed; 2 touched on (only vague, rep-only or
   negative evidence); 3 the prospect spoke to it; 4 specifics (numbers, names, dates) and
   three facets, or two facets over two statements; 5 three or more facets, specifics and at
   least two statements, with this dimension the main topic of at least one (two unless all
   four facets are covered). Facets are what a complete answer covers, e.g. Economic Buyer:
   role, named person, authority, access. Missing facets become the gaps and recommendations,
   so every score is explained by its evidence and by what is absent.
6. **Overall** is the weighted mean of the six scores (Identify Pain and Economic Buyer weigh
   1.25, Decision Criteria 0.75, the others 1 — no pain or no buyer means no deal, while
   criteria are often set later); the qualification status follows ``StatusPolicy``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from pydantic import SecretStr

from callstream_common.contracts import (
    DimensionAssessment,
    Evidence,
    MeddicAnalysis,
    MeddicDimension,
    NextStep,
    Priority,
    QualificationStatus,
    Risk,
    Transcript,
    TranscriptSegment,
)

PROVIDER = "builtin"
MODEL = "meddic-rules+minilm-l6-int8"

D = MeddicDimension


class Analyzer(Protocol):
    """Anything that turns a transcript into a MEDDIC scorecard (built-in or an LLM)."""

    def analyze(self, transcript: Transcript) -> MeddicAnalysis: ...


class Embedder(Protocol):
    """Texts to L2-normalised vectors, one row per text (dot product = cosine).

    The real one is :class:`callstream_analyzer.embeddings.MiniLMEmbedder`; tests may pass a
    deterministic fake. Defined here so the domain does not import onnxruntime.
    """

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]: ...


# =========================================================================== sentences


class Role(StrEnum):
    REP = "rep"
    PROSPECT = "prospect"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Sentence:
    index: int
    text: str
    start: float
    end: float
    speaker: str | None
    turn: int
    is_question: bool
    role: Role = Role.UNKNOWN


_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st vs etc inc ltd co corp e.g i.e approx dept est no fig a.m p.m"
    " u.s u.k".split()
)
_SENTENCE_END = re.compile(r"[.!?…]+[\"')\]]*\s+")
_QUESTION_START = re.compile(
    r"^(?:so |and |but |okay,? |ok,? |right,? |also,? )?(?:who|what|when|where|why|how|which|"
    r"whose|do|does|did|is|are|was|were|can|could|would|will|should|have|has|any)\b",
    re.IGNORECASE,
)
_MAX_WORDS = 45
_CHUNK_WORDS = 30


_UNPUNCTUATED_QUESTION = re.compile(
    r"^(?:(?:so|and|okay|ok|got it|great|right|cool|perfect|alright)\b[ ,]*)+"
    r"(?:who|what|when|where|why|how|which|do you|does|did you|is there|are there|can you|"
    r"could you|would you|will you)\b",
    re.IGNORECASE,
)


def _is_question(text: str) -> bool:
    t = text.strip()
    if t.endswith("?"):
        return True
    if t.endswith((".", "!")):
        return False
    return bool(_QUESTION_START.match(t) or _UNPUNCTUATED_QUESTION.match(t))


def _split_long(text: str) -> list[tuple[int, int]]:
    """Character spans of pieces of at most ~_CHUNK_WORDS words, cut at clause boundaries
    where possible: unpunctuated ASR output would otherwise be one huge 'sentence'."""
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    if len(words) <= _MAX_WORDS:
        return [(0, len(text))]
    spans: list[tuple[int, int]] = []
    begin = 0
    for i in range(len(words)):
        count = i - begin + 1
        at_clause = text[words[i][1] - 1] in ",;:" and count >= _CHUNK_WORDS // 2
        if at_clause or count >= _CHUNK_WORDS or i == len(words) - 1:
            spans.append((words[begin][0], words[i][1]))
            begin = i + 1
    return spans


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    pos = 0
    for m in _SENTENCE_END.finditer(text):
        last_word = text[pos : m.start()].rsplit(maxsplit=1)
        token = last_word[-1].lower().rstrip(".") if last_word else ""
        if m.group().startswith(".") and (token in _ABBREVIATIONS or len(token) == 1):
            continue
        spans.append((pos, m.start() + len(m.group().rstrip())))
        pos = m.end()
    if pos < len(text):
        spans.append((pos, len(text)))
    out: list[tuple[int, int]] = []
    for a, b in spans:
        piece = text[a:b]
        lead = len(piece) - len(piece.lstrip())
        for x, y in _split_long(piece.strip()):
            out.append((a + lead + x, a + lead + y))
    return out


def split_sentences(transcript: Transcript) -> list[Sentence]:
    """Sentences of the transcript in order, each with interpolated start/end and speaker."""
    sentences: list[Sentence] = []
    turn_index = -1
    segments = [s for s in transcript.segments if s.text.strip()]
    # Without punctuation a segment boundary is the best sentence boundary there is, and
    # without diarization consecutive segments may be different people: merge only what is
    # known to be one speaker, or a punctuated sentence that a segment boundary cut in two.
    punctuated = sum(bool(re.search(r"[.?!]", s.text)) for s in segments) >= 0.3 * len(segments)

    def continues(prev_text: str, speaker: str | None, nxt: TranscriptSegment) -> bool:
        if nxt.speaker != speaker:
            return False
        if speaker is not None:
            return True
        return punctuated and not re.search(r"[.?!…][\"')\]]*\s*$", prev_text)

    i = 0
    while i < len(segments):
        speaker = segments[i].speaker
        parts: list[tuple[int, int, float, float]] = []  # char start, char end, t0, t1
        text = ""
        while i < len(segments) and (not text or continues(text, speaker, segments[i])):
            seg = segments[i]
            piece = " ".join(seg.text.split())
            if text:
                text += " "
            parts.append((len(text), len(text) + len(piece), seg.start, max(seg.end, seg.start)))
            text += piece
            i += 1
        turn_index += 1

        def at(offset: int, parts: list[tuple[int, int, float, float]] = parts) -> float:
            for a, b, t0, t1 in parts:
                if offset <= b:
                    frac = 0.0 if b == a else min(max((offset - a) / (b - a), 0.0), 1.0)
                    return round(t0 + (t1 - t0) * frac, 2)
            return round(parts[-1][3], 2)

        for a, b in _sentence_spans(text):
            piece = text[a:b].strip()
            if not re.search(r"\w", piece):
                continue
            sentences.append(
                Sentence(
                    index=len(sentences),
                    text=piece,
                    start=at(a),
                    end=max(at(b), at(a)),
                    speaker=speaker,
                    turn=turn_index,
                    is_question=_is_question(piece),
                )
            )
    return sentences


_REP_LABEL = re.compile(
    r"\b(rep|sales|seller|salesperson|account (?:exec\w*|manager)|ae|se|sdr|bdr|csm|vendor|"
    r"host|interviewer|presales|pre-sales|solutions? (?:engineer|consultant|architect)|"
    r"sales engineer|customer success)\b",
    re.I,
)
_PROSPECT_LABEL = re.compile(r"\b(prospect|customer|client|buyer|lead|guest|caller)\b", re.I)
_SELLER_TALK = re.compile(
    r"\b(our (platform|product|solution|tool|software|customers|clients|pricing|team can|"
    r"integration|roadmap|implementation)|we (offer|provide|help|support|integrate|can show|"
    r"typically see)|i'd love to|happy to show|let me show|demo|our customers|case stud)",
    re.I,
)


@dataclass(frozen=True)
class RoleAssignment:
    roles: Mapping[str | None, Role]
    method: str

    def of(self, speaker: str | None) -> Role:
        return self.roles.get(speaker, Role.UNKNOWN)


def assign_roles(sentences: Sequence[Sentence]) -> RoleAssignment:
    """Who is the rep: by label when labels say so, else by behaviour (questions, seller talk)."""
    speakers = sorted({s.speaker for s in sentences if s.speaker}, key=str)
    if len(speakers) < 2:
        return RoleAssignment({}, "single speaker or no diarization: roles unknown")
    by_label = {sp: Role.REP for sp in speakers if _REP_LABEL.search(sp)}
    by_label |= {
        sp: Role.PROSPECT for sp in speakers if _PROSPECT_LABEL.search(sp) and sp not in by_label
    }
    if by_label and any(r is Role.REP for r in by_label.values()):
        return RoleAssignment(
            {sp: by_label.get(sp, Role.PROSPECT) for sp in speakers}, "speaker labels"
        )
    if (
        by_label
        and all(r is Role.PROSPECT for r in by_label.values())
        and len(by_label) < len(speakers)
    ):
        return RoleAssignment({sp: by_label.get(sp, Role.REP) for sp in speakers}, "speaker labels")
    stats: dict[str, float] = {}
    seller: dict[str, float] = {}
    for sp in speakers:
        own = [s for s in sentences if s.speaker == sp]
        q = sum(s.is_question for s in own) / len(own)
        seller[sp] = sum(bool(_SELLER_TALK.search(s.text)) for s in own) / len(own)
        stats[sp] = q + seller[sp]
    rep = max(speakers, key=lambda sp: stats[sp])
    roles: dict[str | None, Role] = {}
    for sp in speakers:
        is_rep = sp == rep or (seller[sp] >= 0.15 and stats[sp] >= 0.6 * stats[rep])
        roles[sp] = Role.REP if is_rep else Role.PROSPECT
    return RoleAssignment(roles, "behaviour: most questions and seller talk")


# =========================================================================== lexical cues

_NUM = (
    r"(?:\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|"
    r"twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|a hundred|hundreds? of|a few|"
    r"several|a couple(?: of)?|half an?|dozens? of)"
)
_UNITS = (
    r"(?:hours?|hrs|days?|weeks?|months?|years?|minutes?|mins|people|reps?|seats?|users?|"
    r"licen[cs]es?|deals?|customers?|clients?|tickets?|calls?|accounts?|leads?|employees?|"
    r"engineers?|agents?|ftes?|heads?|headcount|meetings?|opportunities|quarters?|times|x|"
    r"points?|renewals?|orders?|transactions?|shipments?)"
)
MONEY = re.compile(
    r"(?:[$€£]\s?\d[\d,.]*(?:\s?(?:k|m|mm|bn|million|billion|thousand|grand)\b)?"
    r"|\b\d[\d,.]*\s?(?:k|m|mm|million|billion|thousand|grand)?\s?(?:dollars|usd|euros?|eur|"
    r"pounds|gbp|bucks)\b|\b\d[\d,.]*\s?k\b|\b" + _NUM + r"[- ](?:million|billion|thousand|"
    r"hundred thousand|grand)\b(?: dollars| euros| pounds)?)",
    re.I,
)
PERCENT = re.compile(r"(?:\d+(?:\.\d+)?\s?%|\b[\w-]+[- ]percent\b|\bper ?cent\b|\bhalf\b)", re.I)
QUANTITY = re.compile(r"\b" + _NUM + r"\s+(?:[a-z-]+\s)?" + _UNITS + r"\b", re.I)
_MONTHS = re.compile(
    r"\b(?:January|February|March|April|May|June|July|August|September|October|November|"
    r"December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\b"
)
_DATES = re.compile(
    r"\b(?:q[1-4]|h[12]|fy ?\d{2,4}|(?:first|second|third|fourth|next|this|last|following) "
    r"(?:quarter|half|fiscal year|year|month|week|sprint)|end of (?:the )?(?:week|month|quarter|"
    r"year|fiscal year|summer|day)|(?:by|before|until|after|on|next|this) (?:monday|tuesday|"
    r"wednesday|thursday|friday)|monday|tuesday|wednesday|thursday|friday|tomorrow|"
    r"\d{1,2}/\d{1,2}(?:/\d{2,4})?|20\d{2}|(?:in|within|over the next) " + _NUM + r" (?:days|"
    r"weeks|months)|new year|year[- ]end|eoq|eoy|the \d{1,2}(?:st|nd|rd|th))\b",
    re.I,
)
_TITLE = re.compile(
    r"\b(?:cfo|ceo|coo|cro|cto|cio|ciso|cmo|chief [a-z]+(?: [a-z]+)? officer|c-suite|c-level|"
    r"vp|svp|evp|vice president|head of [a-z]+(?: [a-z]+)?|director|managing director|gm|"
    r"president|founder|co-founder|general manager|board|controller|treasurer|finance (?:lead|"
    r"director|team|department)|leadership(?: team)?|executive team|exec team|executives?|"
    r"owner)\b",
    re.I,
)
_NAME_STOP = frozenset(
    """I I'm I'll I've I'd OK Okay Yeah Yes No So And But Well Right Sure Great Thanks Hi Hello
    Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May June
    July August September October November December Q1 Q2 Q3 Q4 AI CRM API SSO SOC ROI KPI CFO CEO
    COO CRO CTO CIO CISO CMO VP SVP EVP IT HR PO MSA SLA EU US UK GDPR HIPAA SAML ISO POC RFP
    The This That We Our You Your They Their It Its Let Just Also Then Now Honestly Actually
    Basically Look Listen Frankly Totally Absolutely Perfect Sounds Got Good Cool Awesome""".split()
)
_CAP_WORD = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-z]+(?:[A-Z][a-z]+)?)\b")
_NEGATIVE = re.compile(
    r"\b(?:not sure|unsure|don'?t know|do not know|no idea|not clear|unclear|"
    r"haven'?t (?:decided|figured|thought|defined|talked|discussed|gotten|mapped|looked)|"
    r"hasn'?t been (?:decided|defined|set|discussed)|not (?:yet )?(?:decided|defined|determined)|"
    r"tbd|to be determined|no budget|(?:don'?t|do not) have (?:a |any )?(?:budget|timeline|"
    r"process|criteria|requirements|metrics|numbers)|there'?s no (?:budget|timeline|process|"
    r"plan)|nobody|no one|we'?ll see|can'?t say|hard to say|no formal|"
    r"(?:don'?t|do not) (?:really )?"
    r"(?:track|measure))\b"
    r"|\b(?:good question|(?:get into|cover|discuss|talk about|come back to) (?:that|this) "
    r"(?:later|"
    r"another time|down the road)|another time|rather not (?:say|share)|can'?t (?:share|disclose)|"
    r"not ready to (?:say|share|talk)|let'?s see how|just (?:curious|browsing|looking)|"
    r"mostly (?:just )?curious|no plans?|not (?:really|at this point|right now)\b|"
    r"(?:need|have) to figure out|figure out (?:who|whose|what|how|when)|still (?:figuring|"
    r"working) (?:that |it )?out|not (?:sure|clear) (?:who|whose|how|when))",
    re.I,
)
#: A prospect playing a problem down: pain mentioned this way is not pain to build on.
_MINIMIZER = re.compile(
    r"\b(?:we get by|(?:it'?s|that'?s) (?:fine|ok|okay|manageable|not a big deal)|not a big deal|"
    r"manageable|works (?:ok|okay|fine)|good enough|minor|no real (?:problem|issue)|"
    r"not really (?:a|an) (?:problem|issue|priority))\b",
    re.I,
)
#: Back-channel talk ("Okay.", "Sure, makes sense.") answers nothing, whatever was asked.
_ACK = re.compile(
    r"^(?:(?:ok(?:ay)?|sure|right|yes|yeah|yep|yup|no|nope|mm+-?hm+|uh-huh|hmm+|got it|great|"
    r"cool|fine|alright|all right|perfect|sounds good|makes sense|i see|totally|absolutely|"
    r"exactly|of course|interesting|nice|wow|thanks|thank you|good|true|agreed)[\s,.!?]*)+$",
    re.I,
)
#: Concrete details: a negative statement that contains one is still informative.
_CONCRETE = re.compile(
    f"(?:{MONEY.pattern})|(?:{PERCENT.pattern})|(?:{QUANTITY.pattern})|(?:{_DATES.pattern})", re.I
)
_COMPETITOR = re.compile(
    r"\b(?:competitors?|other vendors?|another vendor|alternatives?|also (?:looking at|talking to|"
    r"evaluating)|shortlist|bake-?off|(?:looking at|talking to|evaluating|comparing) (?:a few|"
    r"two|three|several|other)|incumbent)\b",
    re.I,
)
_OBJECTION = re.compile(
    r"\b(?:no budget|budget (?:freeze|cuts?|is tight|is frozen)|too expensive|can'?t afford|"
    r"hiring freeze|on hold|not a priority|low priority|next year at the earliest|"
    r"reorg(?:anization)?|layoffs?|pushed? (?:it )?back|delay(?:ed)?|not (?:the )?right time)\b",
    re.I,
)
_NEXT_STEP = re.compile(
    r"\b(?:next steps?|follow[- ]up|follow up|send (?:over|you|it|me|the)|schedule|set up (?:a|"
    r"the|time)|book (?:a|some|time)|calendar invite|circle back|reconvene|get back to you|"
    r"share (?:the|a) (?:proposal|deck|pricing|quote)|loop back|send (?:\w+ ){0,3}(?:slots|"
    r"times|invites?|proposal|quote|deck|summary|recap|information|materials|questionnaire|"
    r"link|pricing|contract|agenda)|(?:i'?ll|we'?ll|let'?s|i will|we will) (?:send|schedule|"
    r"set up|book|follow up|get back|circle back|share|put together|draft|prepare))\b",
    re.I,
)


@dataclass(frozen=True)
class Cue:
    label: str
    pattern: re.Pattern[str]
    weight: float


def _cue(label: str, weight: float, pattern: str, flags: int = re.I) -> Cue:
    return Cue(label, re.compile(pattern, flags), weight)


CUES: Mapping[MeddicDimension, tuple[Cue, ...]] = {
    D.METRICS: (
        Cue("money", MONEY, 0.4),
        Cue("percentage", PERCENT, 0.45),
        Cue("quantity", QUANTITY, 0.25),
        _cue(
            "measure",
            0.35,
            r"\b(?:roi|return on (?:the )?investment|kpis?|metrics?|measur\w+|baseline|"
            r"benchmark|win rate|close rate|conversion(?: rate)?|churn(?: rate)?|payback|"
            r"quota attainment|attainment|ramp(?:-up)? time|time to \w+|average deal size|acv|"
            r"arr|mrr|nps|csat|handle time|response time|cycle time|productivity|"
            r"cost per \w+|per (?:rep|week|month|year|day|quarter|hour|seat)|annually)\b",
        ),
        _cue(
            "target",
            0.3,
            r"\b(?:(?:reduce|cut|increase|improve|grow|boost|lower|raise|save|shave|shorten|"
            r"speed up)\w*\b.{0,40}\b(?:by|to|from)\b|double|triple|halve|in half|goal|target|"
            r"(?:get|keep|bring|stay|drop)\w* (?:\w+ ){0,3}"
            r"(?:under|below|above|over|down to|up to)|"
            r"(?:under|below|above) " + _NUM + r")\b",
        ),
    ),
    D.ECONOMIC_BUYER: (
        _cue(
            "authority",
            0.6,
            r"\b(?:sign(?:s|ed|ing)?[- ]off|final (?:say|decision|call|word|approval|sign)|"
            r"approv\w+ (?:(?:a|the|this|that|any|new) )?(?:budget|spend\w*|purchases?|funds|deal|"
            r"contract|tools?|software|project|anything)|approves? (?:it|this|that)|"
            r"budget (?:owner|holder|authority|approval|sits|comes)|owns? (?:the |our |this )?"
            r"(?:[\w-]+ ){0,3}budget|(?:can|could|will|would|must|has to|needs? to) approve|"
            r"approve (?:it |this |that |the \w+ )?myself|signs? (?:the |every |all |any )?"
            r"(?:contracts?|checks?|cheques?|purchase orders?|pos)\b|capital (?:requests?|"
            r"budget|expenditure)|capex|owns the (?:company|business|practice|firm)|"
            r"holds? the (?:budget|purse)|controls? the budget|signing authority|"
            r"signature|pull the trigger|makes? the (?:call|decision)|decision[- ]maker|"
            r"purse strings|green ?light|buck stops|(?:has|have|needs?) to approve|"
            r"approval from|write the check|writes the checks?|foot the bill|"
            r"(?:her|his|their) (?:call|decision|budget)|(?:it'?s|it is) (?:his|her|their) "
            r"money)\b",
        ),
        Cue("title", _TITLE, 0.3),
        _cue("budget", 0.25, r"\b(?:budget\w*|spend(?:ing)?|funding|funds)\b"),
        _cue(
            "access",
            0.25,
            r"\b(?:(?:meet(?:ing)?|time|call|session) with (?:her|him|them|our (?:cfo|ceo|coo|"
            r"vp|head|director|boss|founder))|"
            r"in front of (?:her|him|them|the (?:cfo|ceo|board)))\b",
        ),
    ),
    D.DECISION_CRITERIA: (
        _cue(
            "criteria",
            0.55,
            r"\b(?:criteria|criterion|must[- ]haves?|nice[- ]to[- ]haves?|requirements?|"
            r"required|non[- ]?negotiable|deal[- ]?breakers?|checklist|scorecard|rfp|"
            r"(?:has|have|needs?) to (?:integrate|support|work|handle|be|comply|meet|have)|"
            r"most important (?:thing|factor|for us)|what matters (?:most|to us)|"
            r"we'?re looking for|looking for (?:a|something|a tool|a solution)|top priorit\w+|"
            r"(?:we|i) care (?:most )?about|what we care about|important to us|matters to us|"
            r"(?:has|have|need|needs) to (?:plug|connect|sync|pass|run|talk to)|insist\w* on|"
            r"the bar is|rejected vendors?|must (?:plug|connect|sync|"
            r"support|integrate|have|work|pass|be|run|handle))\b",
        ),
        _cue(
            "technical",
            0.35,
            r"\b(?:integrat\w+|compatib\w+|api|sso|single sign[- ]on|saml|soc ?2|iso ?27001|"
            r"gdpr|hipaa|security|secure|compliance|compliant|encrypt\w*|data residency|"
            r"on[- ]prem\w*|scal\w+|uptime|sla|permissions|admin controls|audit|"
            r"tech stack|data retention|privacy|offline|cloud|tenant|host(?:ed|ing)|mobile|"
            r"provisioning|scim|residency|sap|azure|aws|gcp)\b",
        ),
        _cue(
            "evaluation",
            0.35,
            r"\b(?:evaluat\w+|compar\w+|shortlist\w*|bake-?off|vendors?|alternatives|"
            r"ease of use|easy to use|user[- ]friendly|adoption|support|pricing|total cost|"
            r"features?|functionality|capabilit\w+|other (?:tools|options|products|solutions)|"
            r"also (?:looking at|talking to|evaluating)|competitors?|incumbent)\b",
        ),
    ),
    D.DECISION_PROCESS: (
        _cue(
            "process",
            0.5,
            r"\b(?:procurement|purchasing|legal(?: team| review)?|security review|infosec|"
            r"vendor (?:onboarding|assessment|review|approval)|approval process|"
            r"process|committee|board meeting|pilot|proof of concept|poc|trial|"
            r"roll ?out|go[- ]live|kick[- ]?off|contract|msa|redlines?|purchase order|po|"
            r"paperwork|budget cycle|fiscal year|steps?|timeline|time ?frame|deadline|"
            r"sign the|stakeholders|business case|proposal|"
            r"review|present (?:it|this) to)\b",
        ),
        Cue("month", _MONTHS, 0.3),
        Cue("date", _DATES, 0.3),
        _cue("sequence", 0.25, r"\b(?:first|then|after that|once|before|afterwards|finally)\b"),
    ),
    D.IDENTIFY_PAIN: (
        _cue(
            "pain",
            0.5,
            r"\b(?:struggl\w*|frustrat\w*|pain(?:ful| point)?s?|nightmare|headaches?|"
            r"bottlenecks?|costs? us|costing us|cost us|losing|lose|lost|wast\w+|burn(?:ed|t)? "
            r"out|burnout|drowning|overwhelm\w*|falling through the cracks|fire ?drills?|"
            r"scrambl\w+|killing us|hurts?|hurting|suffer\w*|churn\w*|miss(?:ed|ing)? "
            r"(?:our )?(?:targets?|quota|numbers|deadlines?|forecast|renewals?)|complain\w*|"
            r"buried|threaten\w* to (?:leave|churn|cancel)|not sustainable|unsustainable|"
            r"(?:keep|kept|keeps) (?:\w+ing|getting|breaking|dropping)|dropped|slipping|"
            r"escalations?|overloaded|can'?t keep up|mess|chaos|chaotic|firefighting|downtime|"
            r"outages?|(?:went|goes|going) down|idle|burns?|fed up|hang up|on hold)\b",
        ),
        _cue(
            "problem",
            0.35,
            r"\b(?:problems?|issues?|challeng\w+|manual(?:ly)?|spreadsheets?|slow|takes forever|"
            r"error[- ]prone|errors|mistakes|inconsistent|unreliable|no visibility|blind spot|"
            r"broken|hate|annoying|tedious|painful|risky|behind|stuck|hard to|difficult|"
            r"can'?t (?:see|track|tell|keep up|scale)|too (?:long|much|many|slow)|rough|clunky|"
            r"backlog|all the time|fighting|outdated|morale|exhausted|time[- ]consuming|"
            r"friction|gaps?|leak\w*|bad|worse|at risk)\b",
        ),
    ),
    D.CHAMPION: (
        _cue(
            "advocacy",
            0.6,
            r"\b(?:champion|advocate|push\w* (?:for |hard )?(?:this|it|for it)|"
            r"push\w* (?:it |this )?"
            r"internally|sell (?:this|it) (?:internally|to|up)|make the case|build the case|"
            r"get (?:them|him|her|everyone|the team|leadership|people) on board|get buy-?in|"
            r"put in a good word|in your corner|on your side|behind this|fight for|"
            r"bring (?:this|it) (?:to|up with)|pitch (?:this|it) to|go to bat|internally|"
            r"sponsor\w*|drive (?:this|it)|tak\w+ (?:this|it) forward|push\w* (?:to|for)|"
            r"brought you in)\b",
        ),
        _cue(
            "access",
            0.5,
            r"\b(?:(?:i'?ll|i will|i can|let me) (?:get|bring|invite|pull) (?:\w+ ){0,2}"
            r"(?:into|to|in|on|along)|introduce you|intro you|connect you|"
            r"loop (?:him|her|them|you) in|"
            r"get you (?:\w+ ){0,2}(?:in front|time|minutes|meeting|call|with)|"
            r"set up (?:a |some )?(?:meeting|call|time) "
            r"with (?:my|our|the|him|her)|bring you in)\b",
        ),
        _cue(
            "commitment",
            0.35,
            r"\b(?:i'?ll|i will|i can|let me|i'?m going to|i'?m happy to)\s+(?:\w+\s+){0,2}"
            r"(?:talk|speak|present|share|forward|pitch|raise|recommend|mention|tell|"
            r"set up|walk|convince|socialize|run (?:it|this) by)\b",
        ),
        _cue(
            "personal",
            0.3,
            r"\b(?:i'?m (?:a )?(?:big )?fan|i'?m sold|i love (?:this|it|that)|excited about|"
            r"make my life|would help me|my (?:boss|manager|vp) (?:trusts|listens)|i report to|"
            r"personally|i'?m all in|count me in|i'?m in\b|sold on)\b",
        ),
    ),
}

#: What a complete answer on a dimension covers. Found in that dimension's evidence only.
FACETS: Mapping[MeddicDimension, Mapping[str, re.Pattern[str]]] = {
    D.METRICS: {
        "quantified": re.compile(
            f"(?:{MONEY.pattern})|(?:{PERCENT.pattern})|(?:{QUANTITY.pattern})", re.I
        ),
        "target": CUES[D.METRICS][4].pattern,
        "baseline": re.compile(
            r"\b(?:currently|today|right now|at the moment|on average|average|per (?:week|month|"
            r"rep|day|year|quarter)|each (?:week|month|rep|year)|every (?:week|month|year)|"
            r"(?:is|are|sits?|sitting|runs?|running|hovers?|hovering|stands?) (?:at |around |"
            r"about |roughly |near )|takes? (?:us )?(?:about"
            r"|around|roughly)?)\b",
            re.I,
        ),
        "financial": re.compile(
            f"(?:{MONEY.pattern})|\\b(?:roi|revenue|cost|savings|margin|profit|payback|arr|"
            r"dollars)\b",
            re.I,
        ),
    },
    D.ECONOMIC_BUYER: {
        "role": _TITLE,
        "named person": re.compile(r"$^"),  # filled by _has_name(), see _facets()
        "authority": CUES[D.ECONOMIC_BUYER][0].pattern,
        "access": re.compile(
            r"\b(?:meet|meeting|call|intro\w*|loop \w+ in|bring (?:him|her|them)|talk(?:ed)? "
            r"(?:to|with)|spoke|speak (?:to|with)|in the room|join\w*|attend|present(?:ation)? "
            r"to|already (?:seen|aware|asked)|asked (?:me|us)|is (?:aware|involved|engaged))\b",
            re.I,
        ),
    },
    D.DECISION_CRITERIA: {
        "explicit criteria": CUES[D.DECISION_CRITERIA][0].pattern,
        "technical": CUES[D.DECISION_CRITERIA][1].pattern,
        "commercial": re.compile(
            r"\b(?:price|pricing|cost|budget|roi|contract|terms|support|sla|payment|licens\w+|"
            r"per seat|total cost|value)\b",
            re.I,
        ),
        "evaluation": re.compile(
            r"\b(?:evaluat\w+|compar\w+|shortlist\w*|vendors?|competitors?|alternatives|rank\w*|"
            r"weigh\w*|scor\w+|priorit\w+|most important|deal[- ]?breaker|bake-?off)\b",
            re.I,
        ),
    },
    D.DECISION_PROCESS: {
        "steps": re.compile(
            r"\b(?:steps?|pilot|proof of concept|poc|trial|demo|evaluation|phase|first|then|"
            r"after that|once|review|business case|proposal|rollout|roll out|implementation)\b",
            re.I,
        ),
        "approvals": re.compile(
            r"\b(?:legal|procurement|purchasing|security review|infosec|committee|board|"
            r"sign[- ]off|approv\w+|contract|msa|redlines?|purchase order|po|paperwork|"
            r"vendor (?:onboarding|assessment))\b",
            re.I,
        ),
        "timeline": re.compile(
            f"(?:{_DATES.pattern})|\\b(?:timeline|deadline|go[- ]live|live by|sign by|decide by|"
            r"decision by|by the end|before the end|target date|cut-?off|"
            r"(?:in|within|needs?) (?:about |around |roughly )?" + _NUM + r" (?:business )?"
            r"(?:days|weeks|months))\b",
            re.I,
        ),
        "stakeholders": re.compile(
            f"(?:{_TITLE.pattern})|\\b(?:it|legal|procurement|security|finance|ops) (?:team|"
            r"department|folks|people)\b|\bstakeholders\b",
            re.I,
        ),
    },
    D.IDENTIFY_PAIN: {
        "problem": re.compile(
            f"(?:{CUES[D.IDENTIFY_PAIN][0].pattern.pattern})|(?:{CUES[D.IDENTIFY_PAIN][1].pattern.pattern})",
            re.I,
        ),
        "impact": re.compile(
            f"(?:{MONEY.pattern})|(?:{PERCENT.pattern})|(?:{QUANTITY.pattern})|\\b(?:losing|lose|"
            r"lost|costs? us|costing|revenue|churn\w*|missed|miss|deals|customers|money|hours|"
            r"fines?|penalt\w+|attrition|quit|leaving)\b",
            re.I,
        ),
        "urgency": re.compile(
            r"\b(?:now|urgent\w*|asap|immediately|priority|this (?:quarter|year|month)|"
            r"getting worse|can'?t keep|before|deadline|need to fix|has to change|"
            r"top of (?:my|our) list|board|mandate)\b",
            re.I,
        ),
        "personal": re.compile(
            r"\b(?:frustrat\w*|hate|nightmare|stress\w*|burn(?:ed|t)? out|burnout|keeps? me up|"
            r"my team|i spend|i personally|drives me|sick of|tired of|exhaust\w*)\b",
            re.I,
        ),
    },
    D.CHAMPION: {
        "commitment": re.compile(
            f"(?:{CUES[D.CHAMPION][0].pattern.pattern})|(?:{CUES[D.CHAMPION][2].pattern.pattern})",
            re.I,
        ),
        "influence": re.compile(
            r"\b(?:my (?:boss|manager|vp|director|ceo|cfo)|i report to|listens? to me|trusts? me|"
            r"i (?:run|lead|own|manage)|i'?m responsible|my call|i have (?:the )?(?:ear|"
            r"influence)|leadership)\b",
            re.I,
        ),
        "access": CUES[D.CHAMPION][1].pattern,
        "personal win": re.compile(
            f"(?:{CUES[D.CHAMPION][3].pattern.pattern})|\\b(?:want this|need this|my team|"
            r"on board|love|excited|big fan)\b",
            re.I,
        ),
    },
}

#: Facets that count as "specific" (numbers, names, dates) for the 4/5 levels.
SPECIFIC_FACETS: Mapping[MeddicDimension, frozenset[str]] = {
    D.METRICS: frozenset({"quantified"}),
    D.ECONOMIC_BUYER: frozenset({"role", "named person"}),
    D.DECISION_CRITERIA: frozenset({"technical", "explicit criteria"}),
    D.DECISION_PROCESS: frozenset({"timeline", "approvals"}),
    D.IDENTIFY_PAIN: frozenset({"impact"}),
    D.CHAMPION: frozenset({"commitment", "access"}),
}


_HONORIFIC_NAME = re.compile(r"\b(?:dr|doctor|mr|mrs|ms|miss|prof|professor)\.? ([a-z]{2,})", re.I)
_SELF_AUTHORITY = re.compile(
    r"\bi (?:own|control|hold|manage|run) (?:the |our |this )?(?:[\w-]+ ){0,3}budget|"
    r"\bi (?:can |will |would )?(?:approve|sign off|sign|make the (?:call|decision))\b|"
    r"\bapprove (?:it |this |that |the \w+ )?myself\b|\bmy (?:budget|call|decision|signature)\b",
    re.I,
)


def _names(text: str) -> list[str]:
    """Likely person or organisation names: capitalised words that do not start a sentence
    and are not common capitalised words, plus "Dr Patel"-style names in lower-case ASR."""
    names = [w for w in _CAP_WORD.findall(text) if w not in _NAME_STOP]
    return names + _HONORIFIC_NAME.findall(text)


# =========================================================================== prototypes

PROTOTYPES: Mapping[MeddicDimension, tuple[str, ...]] = {
    D.METRICS: (
        "We want to cut the time reps spend on admin by about thirty percent.",
        "Right now it takes us around two weeks to onboard a new customer.",
        "Our win rate is sitting at roughly eighteen percent and we need it above twenty-five.",
        "If this saves each rep five hours a week, the return on investment is obvious.",
        "We measure success by pipeline conversion and average deal size.",
        "The goal is to grow revenue by two million dollars next year.",
        "Churn is at eight percent annually and leadership wants it under five.",
        "We'd need to see payback within six months to justify the cost.",
        "Our key performance indicators are response time and customer satisfaction.",
        "Ramp time for new hires is about five months today.",
    ),
    D.ECONOMIC_BUYER: (
        "Our CFO signs off on any purchase above fifty thousand dollars.",
        "The final decision sits with the VP of Sales, she owns the budget.",
        "Ultimately it's the CEO who approves new software spend.",
        "Budget approval has to come from finance leadership.",
        "Maria, our head of revenue operations, controls this budget line.",
        "I can recommend it, but my boss makes the final call on spending.",
        "Anything this size needs sign-off from the chief financial officer.",
        "The person who writes the check is our chief operating officer.",
        "He has the authority to approve the purchase without going to the board.",
    ),
    D.DECISION_CRITERIA: (
        "It has to integrate with Salesforce, that's a must-have for us.",
        "Security is critical, we need SOC 2 and single sign-on.",
        "We'll evaluate vendors on ease of use, price and quality of support.",
        "Our main requirement is that the data stays in the EU.",
        "The tool needs to work with our existing tech stack without custom development.",
        "We're comparing you against two other vendors on features and total cost.",
        "A deal breaker would be if it can't handle our call volume.",
        "IT will want to see how you handle encryption and data retention.",
        "The most important thing for us is how quickly the team can adopt it.",
        "We have a checklist of requirements from the technical team.",
    ),
    D.DECISION_PROCESS: (
        "After the demo we'd run a two-week pilot with one team.",
        "Then it goes to procurement and a legal review of the contract.",
        "Our security team has to complete a vendor assessment before we can sign.",
        "We want to have this live before the start of next quarter.",
        "The approval process usually takes about a month once a proposal is in.",
        "First my team evaluates it, then we present to the leadership committee.",
        "Contracts over a certain size go through the purchasing department.",
        "Our budget cycle closes in October, so the decision has to happen before then.",
        "Legal typically turns around redlines on an agreement in two weeks.",
        "The steps are a technical review, a business case, and then the final sign-off.",
    ),
    D.IDENTIFY_PAIN: (
        "Our biggest problem is that reps spend hours on manual data entry.",
        "We're losing deals because nobody follows up in time.",
        "It's really frustrating that we have no visibility into what happens on calls.",
        "The current process is slow and full of errors.",
        "We struggle to coach new reps because we can't review their calls.",
        "This costs us a lot of money every quarter.",
        "Our forecasts are unreliable and leadership is getting impatient.",
        "Customers complain that they have to repeat themselves to every agent.",
        "Keeping track of everything in spreadsheets has become a nightmare.",
        "If we don't fix this, we'll miss our targets again this year.",
        "My team is burned out from all the repetitive admin work.",
    ),
    D.CHAMPION: (
        "I'll champion this internally and push for it with leadership.",
        "I'm happy to introduce you to our VP so you can present directly.",
        "I'll make the business case to my boss next week.",
        "Personally I'm a big fan, and I'll advocate for your solution.",
        "Leave it with me, I'll get the rest of the team on board.",
        "I can get you in front of the decision makers.",
        "I've already told my manager this is exactly what we need.",
        "I'll share your deck with the leadership team and put in a good word.",
        "I really want this to happen, it would make my team's life so much easier.",
        "Let me talk to our CFO and set up time for the three of us.",
    ),
}

#: Talk that is not qualification: greetings, logistics, small talk, the rep's pitch.
BACKGROUND: tuple[str, ...] = (
    "Hi, thanks for joining the call today.",
    "Can you hear me okay? Let me share my screen.",
    "How was your weekend?",
    "Sounds good, thanks.",
    "Sorry, you cut out for a second.",
    "Let me tell you a bit about our company and what we do.",
    "Our platform uses AI to analyze conversations and surface insights.",
    "We were founded in 2015 and have offices in three countries.",
    "Great, I appreciate your time.",
    "The weather has been terrible lately.",
    "Yeah, that makes sense.",
    "I'm based in Chicago, where are you calling from?",
    "Let me pull up the slide deck.",
    "Okay, perfect, let's get started.",
    "Have a great rest of your day.",
    "Our customers love the dashboard and the mobile app.",
)


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


# =========================================================================== configuration


@dataclass(frozen=True)
class StatusPolicy:
    """Qualification status from the overall score and the number of dimensions at 1.

    Strong: overall >= 4.0 and no dimension at 1. Medium: overall >= 3.0 and at most one
    dimension at 1. Weak: overall >= 2.0 and at most one dimension at 1. At Risk: anything
    else — overall < 2.0, or two or more MEDDIC pillars never discussed (a deal missing two
    pillars is at risk however well the others went).
    """

    strong: float = 4.0
    medium: float = 3.0
    weak: float = 2.0
    at_risk_missing: int = 2

    def status(self, overall: float, scores: Iterable[int]) -> QualificationStatus:
        missing = sum(1 for s in scores if s <= 1)
        if overall < self.weak or missing >= self.at_risk_missing:
            return QualificationStatus.AT_RISK
        if overall >= self.strong and missing == 0:
            return QualificationStatus.STRONG
        if overall >= self.medium:
            return QualificationStatus.MEDIUM
        return QualificationStatus.WEAK


DEFAULT_WEIGHTS: Mapping[MeddicDimension, float] = {
    D.METRICS: 1.0,
    D.ECONOMIC_BUYER: 1.25,
    D.DECISION_CRITERIA: 0.75,
    D.DECISION_PROCESS: 1.0,
    D.IDENTIFY_PAIN: 1.25,
    D.CHAMPION: 1.0,
}


@dataclass(frozen=True)
class AnalyzerConfig:
    """Thresholds of the built-in analyzer.

    The semantic signal is a softmax over the sentence's similarity to the six dimensions, to
    the background prototypes and to a constant ``semantic_none`` ("about none of these"), at
    ``semantic_temperature``. all-MiniLM-L6-v2 gives ~0.35-0.55 for a sentence and a prototype
    on the same topic and ~0.1-0.3 otherwise, so a softmax rewards a sentence that is clearly
    closer to one dimension than to the rest and to small talk, which a fixed cosine threshold
    cannot do for short, generic sentences.
    """

    semantic_temperature: float = 0.05
    semantic_none: float = 0.30
    semantic_weight: float = 0.85
    evidence_threshold: float = 0.42
    #: A secondary dimension of a sentence needs this share of the sentence's best confidence.
    relative_threshold: float = 0.65
    #: A prospect's answer inherits this share of the rep question's confidence per dimension.
    context_share: float = 0.6
    context_min: float = 0.45
    top_k: int = 3
    min_words: int = 3
    role_weights: Mapping[Role, float] = field(
        default_factory=lambda: {Role.PROSPECT: 1.0, Role.UNKNOWN: 0.8, Role.REP: 0.35}
    )
    question_weight: float = 0.5
    weights: Mapping[MeddicDimension, float] = field(default_factory=lambda: DEFAULT_WEIGHTS)
    status_policy: StatusPolicy = field(default_factory=StatusPolicy)


# =========================================================================== analysis


@dataclass(frozen=True)
class Signal:
    """One sentence's support for one dimension, with everything that explains it."""

    sentence: Sentence
    dimension: MeddicDimension
    confidence: float
    weight: float
    semantic: float
    cues: tuple[str, ...]
    in_context: bool
    negative: bool
    primary: bool
    facets: frozenset[str]

    @property
    def specific(self) -> bool:
        return bool(self.facets & SPECIFIC_FACETS[self.dimension])


#: Dimensions a sentence supports only with a lexical cue: metrics are measurable by
#: definition, and a sentence "sounding like" metrics without a number or a measure is not one.
_NEEDS_CUE = frozenset({D.METRICS})


def _noisy_or(values: Iterable[float]) -> float:
    p = 1.0
    for v in values:
        p *= 1.0 - max(0.0, min(v, 1.0))
    return 1.0 - p


def _facets(dimension: MeddicDimension, text: str) -> frozenset[str]:
    found = {name for name, pat in FACETS[dimension].items() if pat.search(text)}
    if dimension is D.ECONOMIC_BUYER:
        if _names(text):
            found.add("named person")
        if _SELF_AUTHORITY.search(text):  # the speaker is the buyer: role and person are known
            found |= {"role", "named person", "authority"}
        if re.search(r"\bowns? the (?:company|business|practice|firm)\b|\bowner\b", text, re.I):
            found.add("role")
    if dimension is D.DECISION_PROCESS and _MONTHS.search(text):
        found.add("timeline")
    return frozenset(found)


def fmt_ts(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = int(seconds)
    return (
        f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
        if s >= 3600
        else f"{s // 60:02d}:{s % 60:02d}"
    )


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


@dataclass
class _DimensionResult:
    assessment: DimensionAssessment
    signals: list[Signal]
    facets: frozenset[str]


class BuiltinMeddicAnalyzer:
    """The offline analyzer: prototypes + lexical cues + rules. Deterministic for a given
    embedder; safe to share between threads (no mutable state after the first call except the
    cached prototype matrix, which is computed idempotently)."""

    provider = PROVIDER
    model = MODEL

    def __init__(self, embedder: Embedder, config: AnalyzerConfig | None = None) -> None:
        self._config = config or AnalyzerConfig()
        self._classifier = PrototypeClassifier(embedder)

    # ----------------------------------------------------------------- labelling

    def _confidences(
        self, sentences: Sequence[Sentence]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], list[list[tuple[str, ...]]]]:
        """Per sentence and dimension: combined confidence, semantic probability, cue labels."""
        cfg = self._config
        dims = list(MeddicDimension)
        n = len(sentences)
        # Back-channel is never evidence and never a question worth context: skip embedding it.
        wanted = [i for i, s in enumerate(sentences) if not _ACK.match(s.text)]
        sims = np.zeros((n, len(dims)), np.float32)
        background = np.ones(n, np.float32)
        if wanted:
            sims[wanted], background[wanted] = self._classifier.similarities(
                [sentences[i].text for i in wanted]
            )
        logits = (
            np.concatenate(
                [sims, background[:, None], np.full((n, 1), cfg.semantic_none)], axis=1
            ).astype(np.float64)
            / cfg.semantic_temperature
        )
        logits -= logits.max(axis=1, keepdims=True) if n else 0.0
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True) if n else 1.0
        semantic = probs[:, : len(dims)]
        conf = np.zeros((n, len(dims)), np.float64)
        cue_hits: list[list[tuple[str, ...]]] = []
        for i, s in enumerate(sentences):
            row: list[tuple[str, ...]] = []
            for k, d in enumerate(dims):
                hits = [c for c in CUES[d] if c.pattern.search(s.text)]
                lexical = min(_noisy_or(c.weight for c in hits), 0.85)
                conf[i, k] = _noisy_or((cfg.semantic_weight * float(semantic[i, k]), lexical))
                row.append(tuple(c.label for c in hits))
            cue_hits.append(row)
        return conf, semantic, cue_hits

    def _context(
        self, sentences: Sequence[Sentence], conf: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Confidence a sentence borrows from what came right before it.

        * A prospect's answer to a rep question about D is about D: the first sentences of the
          next turn (up to and including the first one of six words or more, at most two)
          borrow ``context_share`` of the question's confidence, unless they are clearly about
          another dimension themselves.
        * A sentence that continues an Economic Buyer statement by the same speaker with "she",
          "he", "her", "him" is about that person ("She already asked me for options").
        """
        cfg = self._config
        context = np.zeros_like(conf)
        for i, s in enumerate(sentences):
            if not s.is_question or s.role is Role.PROSPECT:
                continue
            j = i + 1
            while j < len(sentences) and sentences[j].turn == s.turn:
                j += 1
            if j == len(sentences) or sentences[j].role is Role.REP:
                continue
            answers: list[Sentence] = []
            for t in sentences[j : j + 2]:
                if t.turn != sentences[j].turn:
                    break
                answers.append(t)
                if len(t.text.split()) >= 6:
                    break
            for k in range(conf.shape[1]):
                if conf[i, k] < cfg.context_min:
                    continue
                for t in answers:
                    own_other = max(
                        (conf[t.index, j] for j in range(conf.shape[1]) if j != k), default=0.0
                    )
                    if own_other >= 0.6 and own_other > conf[t.index, k]:
                        continue
                    context[t.index, k] = max(context[t.index, k], cfg.context_share * conf[i, k])
        eb = list(MeddicDimension).index(D.ECONOMIC_BUYER)
        for i in range(1, len(sentences)):
            prev, s = sentences[i - 1], sentences[i]
            if (
                prev.speaker == s.speaker
                and conf[i - 1, eb] >= 0.6
                and re.search(r"\b(?:she|he|her|him)\b", s.text, re.I)
            ):
                context[i, eb] = max(context[i, eb], 0.5 * conf[i - 1, eb])
        return context

    def _signals(self, sentences: Sequence[Sentence]) -> list[list[Signal]]:
        cfg = self._config
        dims = list(MeddicDimension)
        conf, semantic, cue_hits = self._confidences(sentences)
        context = self._context(sentences, conf)
        total = 1.0 - (1.0 - conf) * (1.0 - context)
        out: list[list[Signal]] = [[] for _ in dims]
        for i, s in enumerate(sentences):
            words = len(s.text.split())
            best = float(total[i].max()) if len(dims) else 0.0
            concrete = bool(_CONCRETE.search(s.text))
            negative_text = bool(_NEGATIVE.search(s.text)) and not concrete
            minimized = bool(_MINIMIZER.search(s.text))
            for k, d in enumerate(dims):
                c = float(total[i, k])
                if _ACK.match(s.text) or (
                    words < cfg.min_words and not (concrete or _names(s.text))
                ):
                    continue
                strong_cue = any(
                    cue.weight >= 0.5 for cue in CUES[d] if cue.label in cue_hits[i][k]
                )
                if c < cfg.evidence_threshold:
                    continue
                if d in _NEEDS_CUE and not cue_hits[i][k] and context[i, k] == 0:
                    continue
                if c < cfg.relative_threshold * best and not strong_cue:
                    continue
                weight = c * self._role_weight(s, d)
                if weight <= 0:
                    continue
                if d is D.IDENTIFY_PAIN:
                    # Pain is negative talk by nature: only playing it down or an evasive
                    # answer without any strong pain word counts against it.
                    strong_pain = any(c == "pain" for c in cue_hits[i][k])
                    negative = minimized or (negative_text and not strong_pain)
                else:
                    negative = negative_text
                out[k].append(
                    Signal(
                        sentence=s,
                        dimension=d,
                        confidence=round(c, 3),
                        weight=weight,
                        semantic=round(float(semantic[i, k]), 3),
                        cues=cue_hits[i][k],
                        in_context=bool(conf[i, k] < cfg.evidence_threshold),
                        negative=negative,
                        primary=c >= 0.9 * best,
                        facets=frozenset() if negative else _facets(d, s.text),
                    )
                )
        return out

    def _role_weight(self, s: Sentence, d: MeddicDimension) -> float:
        cfg = self._config
        if s.is_question:
            return cfg.question_weight if s.role is Role.PROSPECT else 0.0
        if s.role is Role.REP and d is D.CHAMPION:
            return 0.0
        return cfg.role_weights[s.role]

    # ----------------------------------------------------------------- scoring

    def _assess(
        self, d: MeddicDimension, signals: list[Signal], ctx: _CallContext, buyer: str
    ) -> _DimensionResult:
        cfg = self._config
        positive = [s for s in signals if not s.negative]
        voiced = [
            s for s in positive if s.sentence.role is not Role.REP and not s.sentence.is_question
        ]
        negatives = [s for s in signals if s.negative]
        facets = frozenset().union(*(s.facets for s in voiced)) if voiced else frozenset()
        specific = bool(facets & SPECIFIC_FACETS[d])
        strength = sum(sorted((s.weight for s in voiced), reverse=True)[:3])
        who = (
            "the prospect" if any(s.sentence.role is Role.PROSPECT for s in voiced) else "the call"
        )

        if not signals:
            score = 1
            why = f"Not discussed: no statement in the call supports {d.title}."
        elif not voiced:
            score = 2
            kinds = []
            if negatives:
                kinds.append(f"{len(negatives)} statement(s) of not knowing")
            if any(s.sentence.role is Role.REP for s in positive):
                kinds.append("only the rep's statements")
            if any(s.sentence.is_question for s in positive):
                kinds.append("only questions from the prospect")
            why = f"Touched on but unresolved ({', '.join(kinds) or 'weak evidence'})."
        else:
            primary = sum(1 for s in voiced if s.primary)
            if (
                len(facets) >= 3
                and specific
                and len(voiced) >= 2
                and primary >= 1
                and (len(facets) >= 4 or primary >= 2)
            ):
                score = 5
            elif (
                specific
                and primary >= 1
                and (len(facets) >= 3 or (len(facets) >= 2 and len(voiced) >= 2))
            ):
                score = 4
            elif facets or strength >= 0.8:
                score = 3
            else:
                score = 2
            if negatives and score > 2:
                score -= 1
            why = (
                f"{len(voiced)} statement(s) from {who} (strength {strength:.2f}); covers "
                f"{', '.join(sorted(facets)) or 'no specific facet'}"
                + ("; includes specifics" if specific else "; no specifics (numbers, names, dates)")
            )
            if negatives:
                why += f"; {len(negatives)} statement(s) of not knowing lower it"
        missing = [f for f in FACETS[d] if f not in facets]
        if score < 5 and missing:
            why += f". Missing: {', '.join(missing)}."
        elif not why.endswith("."):
            why += "."
        if any(s.in_context for s in voiced):
            why += " Some evidence is an answer to the rep's question on this topic."

        ranked = sorted(
            signals,
            key=lambda s: (
                s.negative,
                s.sentence.role is Role.REP or s.sentence.is_question,
                -s.weight * (1.3 if s.specific else 1.0),
            ),
        )
        evidence = [
            Evidence(
                quote=_short(s.sentence.text, 300),
                start=s.sentence.start,
                end=s.sentence.end,
                speaker=s.sentence.speaker,
                confidence=round(min(max(s.confidence, 0.0), 1.0), 2),
            )
            for s in ranked[: cfg.top_k]
        ]
        gaps, recs = _gaps_and_recommendations(d, score, facets, negatives, ctx, buyer)
        assessment = DimensionAssessment(
            dimension=d,
            score=score,
            evidence=evidence,
            gaps=gaps,
            recommendations=recs,
            rationale=f"Score {score}/5. {why}",
        )
        return _DimensionResult(assessment, signals, facets)

    # ----------------------------------------------------------------- entry point

    def analyze(self, transcript: Transcript) -> MeddicAnalysis:
        cfg = self._config
        raw = split_sentences(transcript)
        roles = assign_roles(raw)
        sentences = [Sentence(**{**s.__dict__, "role": roles.of(s.speaker)}) for s in raw]
        per_dim = self._signals(sentences)
        ctx = _CallContext.from_sentences(sentences)
        buyer = _buyer(per_dim[list(MeddicDimension).index(D.ECONOMIC_BUYER)], ctx)
        results = {
            d: self._assess(d, per_dim[k], ctx, buyer) for k, d in enumerate(MeddicDimension)
        }
        scores = {d: r.assessment.score for d, r in results.items()}
        total_weight = sum(cfg.weights[d] for d in MeddicDimension)
        overall = round(sum(cfg.weights[d] * scores[d] for d in MeddicDimension) / total_weight, 2)
        status = cfg.status_policy.status(overall, scores.values())
        return MeddicAnalysis(
            dimensions=[results[d].assessment for d in MeddicDimension],
            overall_score=min(max(overall, 1.0), 5.0),
            qualification_status=status,
            key_findings=_key_findings(results, overall, status, ctx),
            next_steps=_next_steps(results, ctx),
            risks=_risks(results, ctx),
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


# =========================================================================== derived output


@dataclass(frozen=True)
class _CallContext:
    """Facts pulled from the whole call that make gaps and next steps specific."""

    largest_amount: str | None
    competitor_quotes: tuple[Sentence, ...]
    objection_quotes: tuple[Sentence, ...]
    agreed_steps: tuple[Sentence, ...]
    titles: tuple[str, ...]

    @classmethod
    def from_sentences(cls, sentences: Sequence[Sentence]) -> _CallContext:
        amounts: list[tuple[float, str]] = []
        for s in sentences:
            for m in MONEY.finditer(s.text):
                amounts.append((_amount_value(m.group()), m.group().strip()))
        voiced = [s for s in sentences if not (s.role is Role.REP and s.is_question)]
        titles = Counter(
            m.group().strip()
            for s in sentences
            if s.role is not Role.REP
            for m in _TITLE.finditer(s.text)
            if m.group().lower() not in {"board", "partner", "partners", "leadership"}
        )
        tail_start = sentences[int(len(sentences) * 0.6)].index if sentences else 0
        steps = [
            s
            for s in sentences
            if not s.is_question and s.index >= tail_start and _NEXT_STEP.search(s.text)
        ]
        return cls(
            largest_amount=max(amounts)[1] if amounts else None,
            competitor_quotes=tuple(
                s for s in voiced if s.role is not Role.REP and _COMPETITOR.search(s.text)
            ),
            objection_quotes=tuple(
                s for s in voiced if s.role is not Role.REP and _OBJECTION.search(s.text)
            ),
            agreed_steps=tuple(steps[-3:]),
            titles=tuple(t for t, _ in titles.most_common(3)),
        )


_PERSON = re.compile(r"\b([A-Z][a-z]+(?: [A-Z][a-z]+)?)\b")


def _buyer(signals: Sequence[Signal], ctx: _CallContext) -> str:
    """How to refer to the economic buyer in advice: their name if the prospect said it,
    else the title most mentioned, else a generic phrase."""
    for s in sorted(signals, key=lambda s: -s.weight):
        if s.negative or s.sentence.role is Role.REP:
            continue
        for m in _PERSON.finditer(s.sentence.text):
            first = m.group(1).split()[0]
            if m.start() > 0 and first not in _NAME_STOP:
                return m.group(1)
            if m.start() == 0 and first not in _NAME_STOP and " " in m.group(1):
                return m.group(1)
    if ctx.titles:
        return f"the {ctx.titles[0]}"
    return "the budget holder"


def _amount_value(text: str) -> float:
    t = text.lower().replace(",", "")
    m = re.search(r"\d+(?:\.\d+)?", t)
    value = float(m.group()) if m else 1.0
    if re.search(r"\b(?:k|thousand|grand)\b|\dk\b", t):
        value *= 1e3
    if re.search(r"\b(?:m|mm|million)\b|\dm\b", t):
        value *= 1e6
    if re.search(r"\b(?:bn|billion)\b", t):
        value *= 1e9
    return value


_GAP_TEXT: Mapping[MeddicDimension, Mapping[str, tuple[str, str]]] = {
    D.METRICS: {
        "quantified": (
            "No quantified outcome: the call has no number for the value of solving this.",
            "Ask for today's figure and the target (e.g. hours per rep per week, win rate, "
            "churn) and what closing that gap is worth in money.",
        ),
        "target": (
            "No target or expected improvement was stated.",
            "Ask what result would make this project a success in 6-12 months and how they "
            "will measure it.",
        ),
        "baseline": (
            "No baseline: today's performance was not quantified.",
            "Ask how they measure this today and what the current number is.",
        ),
        "financial": (
            "The value is not tied to money (revenue, cost, ROI).",
            "Translate the improvement into dollars with the prospect and agree on an ROI "
            "figure they would present internally.",
        ),
    },
    D.ECONOMIC_BUYER: {
        "role": (
            "No economic buyer identified.",
            "Ask who signs off on budgets {amount} and who else must approve the purchase.",
        ),
        "named person": (
            "The economic buyer is not named.",
            "Ask for the name of the person who approves the spend ({title}) and whether they "
            "know about this evaluation.",
        ),
        "authority": (
            "Budget authority is unconfirmed: nobody said who has the final say.",
            "Confirm who has the final say and the approval threshold (e.g. purchases {amount}).",
        ),
        "access": (
            "No access to the economic buyer yet.",
            "Ask your contact to set up a 20-minute meeting with {title} before the proposal.",
        ),
    },
    D.DECISION_CRITERIA: {
        "explicit criteria": (
            "Decision criteria were not made explicit.",
            "Ask what must be true for them to choose a vendor and which criteria are "
            "must-haves versus nice-to-haves.",
        ),
        "technical": (
            "Technical requirements (integrations, security, compliance) are unknown.",
            "Ask which systems it must integrate with and what security review it must pass.",
        ),
        "commercial": (
            "Commercial criteria (price, contract terms, support) were not discussed.",
            "Ask how price and contract terms will be weighed and what budget range is expected.",
        ),
        "evaluation": (
            "No view of how options will be compared or which vendors are in play.",
            "Ask who else they are evaluating and how they will rank the options.",
        ),
    },
    D.DECISION_PROCESS: {
        "steps": (
            "The steps to a decision (pilot, review, proposal) are unknown.",
            "Map the process with the prospect: what happens between now and a signed "
            "contract, step by step.",
        ),
        "approvals": (
            "Approval steps (legal, procurement, security review) were not covered.",
            "Ask whether legal, procurement or security must review and how long each usually "
            "takes.",
        ),
        "timeline": (
            "No timeline or decision date.",
            "Ask for the date they want to be live and work back to a decision date together.",
        ),
        "stakeholders": (
            "Who takes part in the decision is unclear.",
            "Ask who else is involved in the decision (IT, finance, legal) and what each of "
            "them needs to see.",
        ),
    },
    D.IDENTIFY_PAIN: {
        "problem": (
            "No business problem was stated by the prospect.",
            "Ask what is not working today and what prompted them to take this call now.",
        ),
        "impact": (
            "The impact of the problem is not quantified.",
            "Ask what the problem costs them (lost deals, hours, churn) per month.",
        ),
        "urgency": (
            "No urgency: nothing says why this must be solved now.",
            "Ask what happens if nothing changes this quarter and what deadline is driving it.",
        ),
        "personal": (
            "No personal stake: unclear how the problem affects your contact.",
            "Ask how the problem affects them and their team day to day.",
        ),
    },
    D.CHAMPION: {
        "commitment": (
            "No champion: nobody committed to drive this internally.",
            "Ask your contact whether they will sponsor this internally and what they need "
            "from you to make the case.",
        ),
        "influence": (
            "The contact's influence on the decision is unknown.",
            "Ask how decisions like this were made before and what role your contact played.",
        ),
        "access": (
            "Nobody offered to introduce you to other stakeholders.",
            "Ask your contact to introduce you to {title} and the other people involved.",
        ),
        "personal win": (
            "No personal win for the contact is visible.",
            "Ask what success would mean for them personally (time saved, targets hit).",
        ),
    },
}

_NEGATIVE_GAP: Mapping[MeddicDimension, str] = {
    D.METRICS: "The prospect does not track or know the relevant numbers",
    D.ECONOMIC_BUYER: "The prospect is unsure who approves the budget",
    D.DECISION_CRITERIA: "The prospect has no defined criteria yet",
    D.DECISION_PROCESS: "The prospect does not know the decision process or timeline",
    D.IDENTIFY_PAIN: "The prospect plays the problem down",
    D.CHAMPION: "Nobody is ready to push this internally",
}


def _gaps_and_recommendations(
    d: MeddicDimension,
    score: int,
    facets: frozenset[str],
    negatives: Sequence[Signal],
    ctx: _CallContext,
    buyer: str,
) -> tuple[list[str], list[str]]:
    """Gaps name what is missing (at most three), recommendations say what to ask next;
    ``buyer`` is whoever the call points at as the economic buyer, to make them concrete."""
    amount = f"over {ctx.largest_amount}" if ctx.largest_amount else "of this size"
    fill = {"amount": amount, "title": buyer}
    gaps: list[str] = []
    recs: list[str] = []
    if negatives:
        s = negatives[0].sentence
        gaps.append(f'{_NEGATIVE_GAP[d]}: "{_short(s.text, 120)}" ({fmt_ts(s.start)}).')
    if score == 1:
        first = next(iter(FACETS[d]))
        gap, rec = _GAP_TEXT[d][first]
        gaps.append(
            f"{d.title} was not discussed. {gap}" if gap else f"{d.title} was not discussed."
        )
        recs.append(rec.format(**fill))
        missing = [f for f in FACETS[d] if f != first]
    else:
        missing = [f for f in FACETS[d] if f not in facets]
    if score >= 5:
        return gaps, recs
    if score > 1 and not missing and not negatives:
        gaps.append(f"{d.title} rests on a single statement that nobody else confirmed.")
        recs.append(
            f"Confirm the {d.title.lower()} details in the written recap and with a second "
            "stakeholder."
        )
    for f in missing[: 3 if score > 1 else 2]:
        gap, rec = _GAP_TEXT[d][f]
        if score > 1:
            gaps.append(gap)
        recs.append(rec.format(**fill))
    return gaps[:3], recs[:3]


def _key_findings(
    results: Mapping[MeddicDimension, _DimensionResult],
    overall: float,
    status: QualificationStatus,
    ctx: _CallContext,
) -> list[str]:
    ordered = sorted(results.values(), key=lambda r: -r.assessment.score)
    strong = [r for r in ordered if r.assessment.score >= 4]
    weak = [r for r in ordered if r.assessment.score <= 2]

    def listing(rs: Iterable[_DimensionResult]) -> str:
        return ", ".join(f"{r.assessment.dimension.title} {r.assessment.score}/5" for r in rs)

    best = [r for r in ordered[:2] if r.assessment.score >= 3]
    headline = f"{status.value} qualification, overall {overall:.1f}/5"
    if best:
        headline += f"; strongest: {listing(best)}"
    worst = [r for r in reversed(ordered[-2:]) if r.assessment.score <= 3]
    if worst:
        headline += f"; weakest: {listing(worst)}"
    findings = [headline + "."]
    quoted: set[str] = set()
    for r in strong[:3]:
        ev = r.assessment.evidence[0]
        if ev.quote in quoted:
            continue
        quoted.add(ev.quote)
        findings.append(
            f'{r.assessment.dimension.title}: "{_short(ev.quote, 140)}" ({fmt_ts(ev.start)}).'
        )
    missing = [r.assessment.dimension.title for r in weak if r.assessment.score == 1]
    if missing:
        findings.append(f"Not discussed at all: {', '.join(missing)}.")
    if ctx.competitor_quotes:
        s = ctx.competitor_quotes[0]
        findings.append(f'Competitive situation: "{_short(s.text, 140)}" ({fmt_ts(s.start)}).')
    if ctx.agreed_steps:
        s = ctx.agreed_steps[-1]
        findings.append(f'Agreed next step: "{_short(s.text, 140)}" ({fmt_ts(s.start)}).')
    return findings


def _next_steps(
    results: Mapping[MeddicDimension, _DimensionResult], ctx: _CallContext
) -> list[NextStep]:
    steps: list[NextStep] = []
    for s in ctx.agreed_steps[-2:]:
        steps.append(
            NextStep(
                action=f'Do what was agreed at {fmt_ts(s.start)}: "{_short(s.text, 140)}"',
                priority=Priority.HIGH,
            )
        )
    critical = {D.ECONOMIC_BUYER, D.IDENTIFY_PAIN, D.CHAMPION}
    ordered = sorted(
        results.values(),
        key=lambda r: (r.assessment.score, r.assessment.dimension not in critical),
    )
    for r in ordered:
        a = r.assessment
        if a.score >= 5 or not a.recommendations:
            continue
        if a.score == 1 or (a.score == 2 and a.dimension in critical):
            priority = Priority.HIGH
        elif a.score == 2:
            priority = Priority.MEDIUM
        else:  # 3, or 4 with a facet still open
            priority = Priority.LOW
        steps.append(
            NextStep(action=f"{a.dimension.title}: {a.recommendations[0]}", priority=priority)
        )
    return steps[:6]


_RISK_TEXT: Mapping[MeddicDimension, str] = {
    D.METRICS: "No quantified value: the price will be hard to justify and easy to cut.",
    D.ECONOMIC_BUYER: "No confirmed economic buyer: the deal can stall at budget approval.",
    D.DECISION_CRITERIA: "Decision criteria unknown: a competitor may be shaping them.",
    D.DECISION_PROCESS: "Decision process and timeline unknown: the close date is a guess.",
    D.IDENTIFY_PAIN: "No compelling pain: high risk of 'no decision'.",
    D.CHAMPION: "No internal champion: nobody will sell this when you are not in the room.",
}


def _risks(results: Mapping[MeddicDimension, _DimensionResult], ctx: _CallContext) -> list[Risk]:
    risks: list[Risk] = []
    for s in ctx.objection_quotes[:2]:
        risks.append(
            Risk(
                description=f'Objection or blocker raised: "{_short(s.text, 140)}" '
                f"({fmt_ts(s.start)}).",
                severity=Priority.HIGH,
            )
        )
    critical = {D.ECONOMIC_BUYER, D.IDENTIFY_PAIN, D.CHAMPION}
    for r in sorted(results.values(), key=lambda r: r.assessment.score):
        a = r.assessment
        if a.score > 2:
            continue
        high = a.score == 1 and a.dimension in critical
        medium = a.score == 1 or a.dimension in critical
        severity = Priority.HIGH if high else Priority.MEDIUM if medium else Priority.LOW
        risks.append(Risk(description=_RISK_TEXT[a.dimension], severity=severity))
    if ctx.competitor_quotes:
        s = ctx.competitor_quotes[0]
        risks.append(
            Risk(
                description=f'Competitive evaluation: "{_short(s.text, 140)}" ({fmt_ts(s.start)}).',
                severity=Priority.MEDIUM,
            )
        )
    order = {Priority.HIGH: 0, Priority.MEDIUM: 1, Priority.LOW: 2}
    return sorted(risks, key=lambda r: order[r.severity])


def weighted_overall(
    scores: Mapping[MeddicDimension, int],
    weights: Mapping[MeddicDimension, float] = DEFAULT_WEIGHTS,
) -> float:
    """The overall score as the built-in analyzer computes it (exposed for tests and LLM
    post-processing that wants the same aggregation)."""
    total = sum(weights[d] for d in scores)
    return round(sum(weights[d] * s for d, s in scores.items()) / total, 2) if total else 1.0


def build_analyzer(
    provider: str = "builtin",
    base_url: str | None = None,
    api_key: SecretStr | str | None = None,
    model: str | None = None,
    **options: Any,
) -> Analyzer:
    """Same as :func:`callstream_analyzer.factory.build_analyzer` (its home; imported lazily
    because the remote adapters import this module, and so this module stays free of I/O)."""
    from callstream_analyzer.factory import build_analyzer as build

    return build(provider, base_url, api_key, model, **options)


__all__ = [
    "BACKGROUND",
    "CUES",
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
    "Sentence",
    "StatusPolicy",
    "assign_roles",
    "build_analyzer",
    "fmt_ts",
    "split_sentences",
    "weighted_overall",
]
