"""Who stands behind a statement: the prospect's own words, or the rep's words the prospect
only answered with "yes", "right" or "probably".

A rep's claim is not evidence of anything the buyer thinks ("Teams like yours cut spoilage by
forty percent" says nothing about this buyer), so the analyzer never counts it. What the
prospect does with it does count, and how much depends on what the rep said and how the
prospect answered it:

=====================================  ==================  =================================
rep's sentence (the *prompt*)          prospect's reply    the dimension gets
=====================================  ==================  =================================
any question, claim or summary         "no", "no idea",    **declined**: touched on (2), a gap
                                       "not formally"
summary ("so, to recap…", "…right?")   confirmation        **confirmed**: the prospect's own
or yes/no question                     ("yes, exactly")    statement, at most 3 on its own
summary or yes/no question             back-channel or     **acknowledged**: touched on (2)
                                       hedge ("probably")
claim ("our customers cut…",           any short reply     **acknowledged**: touched on (2)
"I imagine you…")
wh-question ("how much time?")         hedge ("quite a     **acknowledged**: a vague answer,
                                       bit, I'd guess")    touched on (2)
wh-question ("who signs off?")         back-channel or     nothing: "okay" answers no "who"
                                       "yes"
last sentence of a pitch of 3+         any short reply     nothing: "okay" after a pitch is
sentences                                                  politeness, not agreement
anything                               no reply            nothing
=====================================  ==================  =================================

A longer reply is the prospect's own statement and is labelled on its own words (plus the
topic of a question it answers, see ``SignalExtractor``). Without diarization the roles are
unknown; a sentence in the seller's voice ("our platform…", "firms like yours…", "I imagine
you…") is then taken for the rep's claim, and the next turn's short reply for the prospect's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise

from callstream_analyzer.meddic.sentences import Role, Sentence


class Stance(StrEnum):
    """How the prospect stands behind a piece of evidence."""

    STATED = "stated"
    """The prospect said it in their own words (or, without roles, someone who is not
    speaking as the seller)."""
    ASKED = "asked"
    """The prospect asked about it: the topic is open for them, nothing is settled."""
    CONFIRMED = "confirmed"
    """The prospect confirmed the rep's summary or yes/no question."""
    ACKNOWLEDGED = "acknowledged"
    """The prospect only acknowledged the rep's claim ("right", "probably")."""
    UNATTRIBUTED = "unattributed"
    """Said by the speaker taken for the rep when roles are only guessed from behaviour, not
    in the seller's voice: it may be a prospect that clustering merged with the rep, so it
    touches the topic on at most."""


class ReplyKind(StrEnum):
    CONFIRMATION = "confirmation"
    BACKCHANNEL = "backchannel"
    HEDGE = "hedge"
    DECLINE = "decline"
    """"No", "not really", "no idea": the topic came up and the answer is a gap."""


class PromptKind(StrEnum):
    SUMMARY = "summary"
    """A recap or a yes/no question: a reply of "yes" confirms its content."""
    CLAIM = "claim"
    """A statement by the rep: a reply acknowledges it at most."""
    OPEN_QUESTION = "open question"
    """who/what/when/...: a short reply answers nothing."""


_CONFIRM = (
    r"yes|yeah|yep|yup|ya|exactly|correct|precisely|indeed|absolutely|definitely|certainly|"
    r"that'?s (?:right|correct|it|true|accurate|spot on|the one|him|her|them)|"
    r"that is (?:right|correct|true)|spot on|bang on|right on|you got it|you nailed it|"
    r"nailed it|true|for sure|100 ?(?:%|percent)|that sums it up|fair summary|"
    r"(?:she|he|they|it|we|i) (?:does|do|did|is|are|was|were|will|would|can|have|has)"
)
_BACKCHANNEL = (
    r"ok(?:ay)?|sure|right|all ?right|alright|mm+-?hm+|uh-?huh|got it|fine|i see|cool|great|"
    r"perfect|sounds (?:good|fine|great|interesting)|makes sense|good|noted|understood|"
    r"interesting|nice|wow|thanks|thank you|agreed|fair|fair enough|well|so|and|oh|ah|um+|uh"
)
_HEDGE = (
    r"probably|maybe|perhaps|possibly|i (?:think|guess|suppose|believe) so|i (?:guess|suppose)|"
    r"could be|might be|kind of|sort of|more or less|in a way|(?:that|it) happens|"
    r"sometimes|i'?d (?:say|think) so|mm+|hmm+|not always|to some extent|something like that|"
    r"i'?d (?:guess|say|think)|quite a (?:bit|lot|few)|a (?:fair )?bit|a lot|a little|loads|"
    r"plenty|some|a few|depends|it depends|varies|it varies|roughly|about that|ish"
)
_DECLINE = (
    r"no|nope|nah|not really|not yet|(?:i'?m )?afraid not|not (?:at the moment|right now|"
    r"at this point|that i know of)|i doubt it|unlikely|i don'?t think so|not sure|no idea|"
    r"no clue|who knows|hard to say|(?:i )?(?:can'?t|couldn'?t) say|not (?:as far as i know)|"
    r"not (?:formally|officially|exactly|precisely|really sure)|(?:we )?(?:don'?t|do not) "
    r"(?:know|track (?:it|that)|measure (?:it|that))|nobody (?:knows|tracks (?:it|that))"
)
_TOKEN = rf"(?:{_CONFIRM}|{_BACKCHANNEL}|{_HEDGE}|{_DECLINE})"
_REPLY = re.compile(rf"^(?:{_TOKEN}\b[\s,.!?…-]*)+$", re.I)
_HEDGE_IN = re.compile(rf"(?<![\w-])(?:{_HEDGE})(?![\w-])", re.I)
_CONFIRM_IN = re.compile(rf"(?<![\w-])(?:{_CONFIRM})(?![\w-])", re.I)
_DECLINE_IN = re.compile(rf"(?<![\w-])(?:{_DECLINE})(?![\w-])", re.I)
#: A reply longer than this is the prospect's own statement, labelled on its own words.
MAX_REPLY_WORDS = 6

_WH_QUESTION = re.compile(
    r"^(?:(?:so|and|but|okay|ok|right|also|then|great|got it)\b[ ,]*)*"
    r"(?:who|whom|whose|what|when|where|why|how|which)\b",
    re.I,
)
_RECAP = re.compile(
    r"\b(?:to recap|to summari[sz]e|in short|let me (?:make sure|play (?:that|it) back|"
    r"recap|summari[sz]e)|just to (?:confirm|check|be clear)|correct me if|if i (?:understand|"
    r"heard|got) (?:you|that|this|it)|so (?:what )?i'?m hearing|so it sounds like|"
    r"so you'?re saying|sounds like you|if i'?m hearing you|did i get (?:that|it|this) right|"
    r"(?:is that|was that|that'?s) (?:right|correct|fair|accurate)|have i got that right)\b"
    r"|,\s*(?:right|correct|yes|no)\s*\?$",
    re.I,
)
#: The seller's voice, for transcripts without roles: talk about the vendor's product and
#: customers, or assumptions about the buyer ("I imagine you…"). Not "our customers complain",
#: which a prospect says about their own customers.
SELLER_VOICE = re.compile(
    r"\b(?:our (?:platform|product|solution|software|tool|app|system|pricing|"
    r"implementation team|onboarding|support team|customers (?:usually|typically|tell|see|"
    r"save|cut|get|love|report)|clients (?:usually|typically|tell|see|save|cut|get|love))|"
    r"we (?:offer|provide|integrate with|support|also have|can migrate|typically see|usually "
    r"see)|(?:teams|companies|firms|customers|clients|operators|people|practices|shops|"
    r"organi[sz]ations|businesses) like yours|most (?:teams|firms|companies|customers|clients|"
    r"operators|practices) (?:we|start|like|care|see|tell|usually|typically)|i (?:imagine|"
    r"assume|bet|suspect) (?:that )?(?:you|your)|case stud(?:y|ies)|free trial|"
    r"i can (?:show|send) you)\b",
    re.I,
)
#: A rep turn of more sentences than this is a pitch: a short reply to it is politeness.
MAX_PROMPT_SENTENCES = 2


@dataclass(frozen=True)
class Reply:
    """A prospect's short reply to the rep's last sentence before it."""

    prompt: Sentence
    kind: ReplyKind
    prompt_kind: PromptKind

    @property
    def negative(self) -> bool:
        """A "no" or "no idea": the topic is touched on, and what is missing is a gap."""
        return self.kind is ReplyKind.DECLINE

    @property
    def stance(self) -> Stance | None:
        """What the reply makes of the prompt's topics (None: nothing)."""
        if self.negative:
            return Stance.ACKNOWLEDGED
        if self.prompt_kind is PromptKind.OPEN_QUESTION:
            return Stance.ACKNOWLEDGED if self.kind is ReplyKind.HEDGE else None
        if self.prompt_kind is PromptKind.SUMMARY and self.kind is ReplyKind.CONFIRMATION:
            return Stance.CONFIRMED
        return Stance.ACKNOWLEDGED


def reply_kind(text: str) -> ReplyKind | None:
    """A short reply that takes up nothing of its own, and what kind; None for anything else."""
    t = text.strip()
    if len(t.split()) > MAX_REPLY_WORDS or not _REPLY.match(t):
        return None
    if _DECLINE_IN.search(t):
        return ReplyKind.DECLINE
    if _HEDGE_IN.search(t):
        return ReplyKind.HEDGE
    if _CONFIRM_IN.search(t):
        return ReplyKind.CONFIRMATION
    return ReplyKind.BACKCHANNEL


def prompt_kind(sentence: Sentence) -> PromptKind:
    if _RECAP.search(sentence.text):
        return PromptKind.SUMMARY
    if sentence.is_question:
        return PromptKind.OPEN_QUESTION if _WH_QUESTION.match(sentence.text) else PromptKind.SUMMARY
    return PromptKind.CLAIM


def speaks_as_seller(sentence: Sentence) -> bool:
    """Said by the rep, or, without roles, in the seller's voice."""
    if sentence.role is Role.REP:
        return True
    return sentence.role is Role.UNKNOWN and bool(SELLER_VOICE.search(sentence.text))


def replies(sentences: Sequence[Sentence]) -> Mapping[int, Reply]:
    """Short replies to the rep, by the index of the reply sentence.

    The prompt is the last sentence of the turn before the reply, when that turn is the
    rep's (or, without roles, in the seller's voice) and not a pitch of more than
    ``MAX_PROMPT_SENTENCES`` sentences; the reply is the first sentence of the next turn,
    or its second when the first is back-channel ("Okay. Yes, that's right.").
    """
    turns: dict[int, list[Sentence]] = {}
    for s in sentences:
        turns.setdefault(s.turn, []).append(s)
    ordered = [turns[t] for t in sorted(turns)]
    out: dict[int, Reply] = {}
    for before, after in pairwise(ordered):
        prompt = before[-1]
        if after[0].role is Role.REP or not _is_prompt(prompt):
            continue
        if after[0].role is Role.UNKNOWN and speaks_as_seller(after[0]):
            continue
        if len(before) > MAX_PROMPT_SENTENCES and not _RECAP.search(prompt.text):
            continue
        found = [(s, k) for s in after[:2] if (k := reply_kind(s.text)) is not None]
        if not found or found[0][0] is not after[0]:
            continue
        chosen, kind = found[-1] if found[0][1] is ReplyKind.BACKCHANNEL else found[0]
        out[chosen.index] = Reply(prompt, kind, prompt_kind(prompt))
    return out


def _is_prompt(sentence: Sentence) -> bool:
    """The rep's sentence, or without roles a seller's claim or anyone's question (on calls
    without diarization it is mostly the rep who asks)."""
    if speaks_as_seller(sentence):
        return True
    return sentence.role is Role.UNKNOWN and sentence.is_question
