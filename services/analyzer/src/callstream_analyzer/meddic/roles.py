"""Who is the rep and who the prospect, from speaker labels or from behaviour."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise

from callstream_analyzer.meddic.sentences import Role, Sentence, split_sentences
from callstream_common.contracts import Transcript

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
    certain: bool = False
    """From labels that say who is who (a stereo channel, "Rep", "Customer"); a guess from
    behaviour on clustered speakers is not: the rep's speaker may hold some prospect talk."""

    def of(self, speaker: str | None) -> Role:
        return self.roles.get(speaker, Role.UNKNOWN)


_SENTENCE_END = re.compile(r"[.?!…][\"')\]]*\s*$")
#: Share of speaker changes inside a sentence above which speaker labels from clustering are
#: noise. On the eval's Whisper transcripts this share is 0 or above 0.6, nothing between.
UNRELIABLE_SHARE = 0.3
MIN_CHANGES = 4


def diarization_unreliable(sentences: Sequence[Sentence]) -> bool:
    """Whether the speaker labels change in the middle of sentences so often that who said
    what cannot be trusted (a rep's sentence half given to the prospect, and the other way).

    A change counts as inside a sentence when the text before it does not end a sentence or
    the text after it starts in lower case. Only punctuated transcripts can be judged."""
    if not any(_SENTENCE_END.search(s.text) for s in sentences):
        return False
    changes = inside = 0
    for before, after in pairwise(sentences):
        if before.speaker == after.speaker:
            continue
        changes += 1
        inside += not _SENTENCE_END.search(before.text) or after.text[:1].islower()
    return changes >= MIN_CHANGES and inside / changes > UNRELIABLE_SHARE


def assign_roles(sentences: Sequence[Sentence]) -> RoleAssignment:
    """Who is the rep: by label when labels say so, else by behaviour (questions, seller talk);
    nobody when there is one speaker or the clustering's labels are noise."""
    speakers = sorted({s.speaker for s in sentences if s.speaker}, key=str)
    if len(speakers) < 2:
        return RoleAssignment({}, "single speaker or no diarization: roles unknown")
    by_label = {sp: Role.REP for sp in speakers if _REP_LABEL.search(sp)}
    by_label |= {
        sp: Role.PROSPECT for sp in speakers if _PROSPECT_LABEL.search(sp) and sp not in by_label
    }
    if by_label and any(r is Role.REP for r in by_label.values()):
        return RoleAssignment(
            {sp: by_label.get(sp, Role.PROSPECT) for sp in speakers}, "speaker labels", True
        )
    if (
        by_label
        and all(r is Role.PROSPECT for r in by_label.values())
        and len(by_label) < len(speakers)
    ):
        return RoleAssignment(
            {sp: by_label.get(sp, Role.REP) for sp in speakers}, "speaker labels", True
        )
    if diarization_unreliable(sentences):
        return RoleAssignment({}, "diarization unreliable (speakers change inside sentences)")
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


def sentences_with_roles(transcript: Transcript) -> tuple[list[Sentence], RoleAssignment]:
    """The transcript's sentences, each with its speaker's role, and the assignment."""
    raw = split_sentences(transcript)
    roles = assign_roles(raw)
    return [replace(s, role=roles.of(s.speaker)) for s in raw], roles
