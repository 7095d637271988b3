"""Hand-written sales-call dialogues for the analyzer tests.

They are written in everyday call language on purpose, not in the words of the analyzer's
prototype sentences, so the tests check that the analyzer generalises rather than matches.
"""

from __future__ import annotations

from callstream_common.contracts import Transcript, TranscriptSegment

Line = tuple[str | None, str]


def make_transcript(lines: list[Line], words_per_second: float = 2.5) -> Transcript:
    """Segments with plausible timing: each line lasts as long as it takes to say, plus a pause."""
    t = 0.0
    segments = []
    for speaker, text in lines:
        duration = max(len(text.split()) / words_per_second, 0.8)
        segments.append(
            TranscriptSegment(
                start=round(t, 2), end=round(t + duration, 2), text=text, speaker=speaker
            )
        )
        t += duration + 0.6
    return Transcript(language="en", duration_seconds=round(t, 2), segments=segments)


R, P = "Rep", "Prospect"

STRONG: list[Line] = [
    (R, "Thanks for making time, Jordan. How's the quarter going?"),
    (P, "Busy, honestly. We just came off a rough month."),
    (R, "Tell me more about that, what's been going on?"),
    (
        P,
        "Our support team is buried. Tickets sit for three days before anyone touches them, "
        "and two enterprise accounts have threatened to leave because of it.",
    ),
    (P, "I'm personally spending my evenings triaging the queue, which is not sustainable."),
    (R, "What would good look like for you?"),
    (
        P,
        "Getting first response under four hours, and cutting the backlog by half before our "
        "renewal season in September.",
    ),
    (P, "Each of those enterprise accounts is worth about $300,000 a year, so the math is simple."),
    (R, "Who else is involved in deciding on something like this?"),
    (
        P,
        "Priya Shah, our COO, owns the support budget and she has the final say on anything "
        "over $100k.",
    ),
    (P, "She already asked me to bring her options, so I can get you thirty minutes with her."),
    (R, "What will you be looking at when you compare options?"),
    (
        P,
        "It must plug into Zendesk and our Okta single sign-on, and it has to pass our SOC 2 "
        "vendor review.",
    ),
    (
        P,
        "Beyond that, we care about how fast agents can learn it. We're also looking at two "
        "other tools.",
    ),
    (R, "And how does the buying process usually work on your side?"),
    (
        P,
        "We'd do a three-week pilot with the tier-one team, then security review, then "
        "procurement issues a PO.",
    ),
    (
        P,
        "Legal needs about ten business days for the MSA, so to be live by September we'd need "
        "to sign by mid-July.",
    ),
    (R, "That's helpful. How do you feel about taking this forward internally?"),
    (
        P,
        "I'm all in. I'll walk Priya through the pilot plan myself and push to get it funded "
        "this quarter.",
    ),
    (R, "Great, I'll send over the pilot proposal by Friday and set up the session with Priya."),
    (P, "Perfect, talk soon."),
]

# Diarized but unlabelled: the analyzer must work out that SPEAKER_00 is the rep.
WEAK: list[Line] = [
    ("SPEAKER_00", "Hi Sam, thanks for hopping on. Can you hear me alright?"),
    ("SPEAKER_01", "Yep, loud and clear."),
    ("SPEAKER_00", "Great. So what made you take the meeting today?"),
    ("SPEAKER_01", "Honestly, my manager forwarded your email and asked me to check it out."),
    ("SPEAKER_00", "Got it. Are there any challenges with your current reporting setup?"),
    ("SPEAKER_01", "It's fine, I guess. Some reports are a bit clunky but we get by."),
    ("SPEAKER_00", "Who would be involved in approving a purchase like this?"),
    ("SPEAKER_01", "I'm not really sure, I'd have to ask around."),
    ("SPEAKER_00", "Do you have a sense of timing for making a decision?"),
    ("SPEAKER_01", "Not really, there's no timeline right now."),
    ("SPEAKER_00", "Okay. Would it help if I sent over some materials?"),
    ("SPEAKER_01", "Sure, send whatever you have and I'll take a look when I can."),
]

# No diarization at all (speaker None): only pain and metrics are covered, in depth.
PARTIAL: list[Line] = [
    (None, "Thanks for joining. What does ramp-up look like for new engineers today?"),
    (
        None,
        "Honestly it's rough. It takes about four months before a new hire ships anything "
        "meaningful.",
    ),
    (
        None,
        "Our docs are outdated and the senior engineers spend half their time answering the "
        "same questions over and over.",
    ),
    (None, "How are you measuring the cost of that?"),
    (
        None,
        "By our estimate the delay is costing us roughly 2 million dollars a year in lost "
        "productivity.",
    ),
    (None, "And first-year attrition is at 25 percent, mostly because people feel lost."),
    (None, "We'd like to get ramp time down to six weeks by the end of next year."),
    (None, "That's a big gap. Is that something the team feels day to day?"),
    (None, "Absolutely, my leads are exhausted and morale is slipping."),
    (None, "Thanks, this was useful. Let's talk again after the holidays."),
]

# The rep asks about everything; the prospect never answers. Nothing counts as evidence.
REP_ONLY: list[Line] = [
    ("Rep", "Who signs off on budget for tools like this at your company?"),
    ("Client", "Ha, good question. Let's get into that another time."),
    ("Rep", "What are your must-have requirements around integrations and security?"),
    ("Client", "We can cover that later."),
    ("Rep", "What does your timeline and approval process look like?"),
    ("Client", "Hard to say at this point."),
    ("Rep", "Is there someone who would champion this internally?"),
    ("Client", "Let's see how the demo goes first."),
    ("Rep", "What's the biggest problem you're trying to solve, and what is it costing you?"),
    ("Client", "Mostly just curious what's out there."),
]

# Labelled "Vendor"/"Acme" speakers, a mixed call: EB named, criteria explicit, no metrics.
MIXED: list[Line] = [
    ("Chris (Vendor)", "Thanks for the time, Dana. Where should we start?"),
    (
        "Dana (Acme)",
        "Our marketing and sales teams keep fighting over lead quality, and handoffs get "
        "dropped all the time.",
    ),
    ("Chris (Vendor)", "Who would ultimately approve a tool to fix that?"),
    (
        "Dana (Acme)",
        "Tom Becker, our VP of Finance, approves anything like this, and he'll want a clear "
        "business case.",
    ),
    ("Dana (Acme)", "Does your product sync with HubSpot?"),
    ("Chris (Vendor)", "Yes, we have a native HubSpot integration."),
    (
        "Dana (Acme)",
        "Good, because HubSpot sync and role-based permissions are non-negotiable for us.",
    ),
    (
        "Dana (Acme)",
        "We usually decide on new tools at the start of each quarter, after a short trial.",
    ),
    (
        "Dana (Acme)",
        "I like what I've seen so far, and I'll bring it up with Tom at our Monday sync.",
    ),
    ("Chris (Vendor)", "Great, I'll follow up with a summary and a trial link tomorrow."),
]

# The prospect raises the topic but explicitly does not know: negative evidence only.
UNSURE_BUYER: list[Line] = [
    ("Rep", "Who owns the budget for this kind of project?"),
    (
        "Prospect",
        "I honestly don't know who would sign off on it, it has never come up before.",
    ),
    ("Prospect", "Our biggest headache is that onboarding new customers takes six weeks."),
    ("Prospect", "We lose at least a few deals a quarter because of that delay."),
]


def long_call(minutes: int) -> Transcript:
    """A long call made by cycling the dialogues above, with time running on."""
    pool = STRONG + WEAK + PARTIAL + MIXED + REP_ONLY
    lines: list[Line] = []
    seconds = 0.0
    i = 0
    while seconds < minutes * 60:
        speaker, text = pool[i % len(pool)]
        lines.append((speaker or ("Rep" if i % 2 else "Prospect"), text))
        seconds += max(len(text.split()) / 2.5, 0.8) + 0.6
        i += 1
    return make_transcript(lines)


# --------------------------------------------------------------------------- held out
# Written after the analyzer's rules and prototypes were fixed, in other industries and
# registers, to check that it generalises. Speaker labels are names only: roles are inferred.

FACTORY: list[Line] = [
    ("Megan", "Hi Luis, thanks for having me. How are things at the Dayton plant?"),
    ("Luis", "Crazy. Line three went down twice last week and nobody saw it coming."),
    ("Megan", "Ouch. How often does that happen, and what does it cost you?"),
    (
        "Luis",
        "Unplanned downtime is running around twelve percent, and every hour the line is idle "
        "burns roughly eighteen thousand dollars.",
    ),
    ("Luis", "My maintenance guys are basically firefighting all day and they're fed up."),
    ("Megan", "If you could change one number by the end of the year, which would it be?"),
    ("Luis", "Get downtime under five percent. That alone pays for a project like this."),
    ("Megan", "What would a system have to do to even make your shortlist?"),
    (
        "Luis",
        "It has to talk to SAP, work offline on the shop floor, and our IT people will insist "
        "on it running in our own Azure tenant.",
    ),
    ("Megan", "And who gets the final word on spend at this level?"),
    (
        "Luis",
        "Frank Miller, the plant GM, controls capital requests, and corporate finance signs off "
        "above two hundred thousand.",
    ),
    ("Megan", "How does a capital request usually move through?"),
    (
        "Luis",
        "We write it up in October, it goes to the regional review board in November, and "
        "purchasing cuts the PO in January.",
    ),
    (
        "Luis",
        "I'll get Frank into your next demo myself. I've been pushing for predictive "
        "maintenance for two years.",
    ),
    ("Megan", "That would be great. I'll send a few slots for the demo today."),
]

# ASR output without diarization, capitals or punctuation.
CLINIC: list[Line] = [
    (None, "thanks for taking the time so tell me a little about the practice"),
    (
        None,
        "sure we're four locations and honestly the front desk is drowning in phone calls "
        "patients wait on hold for ten minutes and a lot of them just hang up",
    ),
    (
        None,
        "whatever we pick has to be hipaa compliant and it needs to connect to our athena "
        "scheduling system that's non negotiable",
    ),
    (None, "got it and who would make the call on something like this"),
    (
        None,
        "that would be doctor patel she owns the practice and she signs every contract over "
        "five thousand",
    ),
    (None, "okay great i'll put together some information for you"),
]

SMALL_TALK: list[Line] = [
    ("Rep", "Morning! Did you catch the game last night?"),
    ("Guest", "I did, what a finish. My kids were screaming at the TV."),
    (
        "Rep",
        "Ha, same here. So quickly about us: our customers typically close deals 35 percent "
        "faster and save about six hours per rep per week.",
    ),
    ("Guest", "Nice. We're actually moving offices next month, so it's a bit hectic here."),
    ("Rep", "Totally understand. Where's the new office?"),
    ("Guest", "Downtown, right by the river. Much better coffee options, at least."),
    ("Rep", "What would you want to see in a follow-up session?"),
    ("Guest", "Maybe just send me a recording and I'll watch it when things calm down."),
]

COMMITTEE: list[Line] = [
    ("AE - Jen", "Thanks everyone for joining. Kim, Omar, what should we focus on today?"),
    (
        "Omar",
        "From the sales ops side, our pipeline data is a mess. Reps update opportunities on "
        "Friday afternoons from memory.",
    ),
    (
        "Kim",
        "For IT, the bar is clear: SSO through Entra, SCIM provisioning, and data stored in "
        "the EU. We've rejected vendors before over data residency.",
    ),
    ("SE - Raj", "Our platform supports SAML, SCIM and EU hosting out of Frankfurt."),
    (
        "Kim",
        "Good. You'll get our security questionnaire next week, and procurement won't start "
        "until that's approved.",
    ),
    ("AE - Jen", "Who holds the budget for this?"),
    (
        "Omar",
        "Honestly we still need to figure out whose budget this comes out of, sales or IT.",
    ),
    (
        "Omar",
        "I'm the one who brought you in, and I'll keep pushing for it with our sales leadership.",
    ),
    ("AE - Jen", "Thank you. I'll send the questionnaire answers and a pilot plan by Thursday."),
]

EXPANSION: list[Line] = [
    ("Account Manager", "Great to see you again, Helen. How's the rollout been?"),
    ("Helen", "Pretty smooth, really. No big complaints, it works fine for us."),
    ("Account Manager", "Glad to hear it. What's driving the interest in more seats?"),
    (
        "Helen",
        "We're hiring forty more agents in Q3 and we want our average handle time to stay under "
        "six minutes as we grow.",
    ),
    (
        "Helen",
        "I own the customer service budget, so I can approve the expansion myself as long as "
        "it stays under the ninety thousand we planned.",
    ),
    ("Helen", "Send me a quote by the end of the month and I'll get the PO raised."),
]
