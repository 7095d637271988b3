"""Lexical side of the labelling: cue patterns per MEDDIC dimension, the facets a complete
answer covers, and the patterns for not knowing, playing down, back-channel, names, amounts,
competitors, objections and next steps. Data and pure functions only."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from callstream_common.contracts import MeddicDimension

D = MeddicDimension

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
MONTHS = re.compile(
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
TITLE = re.compile(
    r"\b(?:cfo|ceo|coo|cro|cto|cio|ciso|cmo|chief [a-z]+(?: [a-z]+)? officer|c-suite|c-level|"
    r"vp|svp|evp|vice president|head of [a-z]+(?: [a-z]+)?|director|managing director|gm|"
    r"president|founder|co-founder|general manager|board|controller|treasurer|finance (?:lead|"
    r"director|team|department)|leadership(?: team)?|executive team|exec team|executives?|"
    r"owner)\b",
    re.I,
)
NAME_STOP = frozenset(
    """I I'm I'll I've I'd OK Okay Yeah Yes No So And But Well Right Sure Great Thanks Hi Hello
    Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May June
    July August September October November December Q1 Q2 Q3 Q4 AI CRM API SSO SOC ROI KPI CFO CEO
    COO CRO CTO CIO CISO CMO VP SVP EVP IT HR PO MSA SLA EU US UK GDPR HIPAA SAML ISO POC RFP
    The This That We Our You Your They Their It Its Let Just Also Then Now Honestly Actually
    Basically Look Listen Frankly Totally Absolutely Perfect Sounds Got Good Cool Awesome""".split()
)
_CAP_WORD = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-z]+(?:[A-Z][a-z]+)?)\b")
NEGATIVE = re.compile(
    r"\b(?:not sure|unsure|don'?t know|do not know|no idea|not clear|unclear|"
    r"haven'?t (?:really |yet |even )?(?:decided|figured|thought|defined|talked|discussed|gotten|"
    r"mapped|looked)|"
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
    r"working) (?:that |it )?out|not (?:sure|clear) (?:who|whose|how|when)|"
    r"(?:can'?t|couldn'?t|cannot) (?:really )?(?:tell you|say)|no clue|beats me|"
    r"not my (?:area|department|decision|call)|(?:let'?s|i'?d rather) not (?:get into|go into)|"
    r"maybe (?:someday|one day|later|next year)|(?:haven'?t|have not) got (?:a|any) "
    r"(?:budget|timeline|plan|numbers))",
    re.I,
)
#: A buyer asking what the product can do states a requirement ("Can it pull records from
#: both sites?"): Decision Criteria told as a question. "Does it need to…" is the seller asking.
ASKS_CAPABILITY = re.compile(
    r"^(?:(?:and|so|also|but|well|okay|ok|then|now|plus|oh)\b[ ,]*)*"
    r"(?:can|could|does|do|will|would|is|are|has|have)\s+(?:it|they|this|that|the (?:system|"
    r"tool|platform|app|software|product)|your (?:\w+ )?(?:product|system|tool|platform|app|"
    r"software|solution|service|sensors?|devices?|api)|you (?:guys )?(?:support|integrate|"
    r"handle|offer|connect|work with|sync|store|host|encrypt|keep|export|import|cover))\b"
    r"(?! (?:need|have|want) to)",
    re.I,
)
#: A prospect playing a problem down: pain mentioned this way is not pain to build on.
MINIMIZER = re.compile(
    r"\b(?:we get by|(?:it'?s|that'?s) (?:fine|ok|okay|manageable|not a big deal)|not a big deal|"
    r"manageable|works (?:ok|okay|fine)|good enough|minor|no real (?:problem|issue)|"
    r"not really (?:a|an) (?:problem|issue|priority)|can'?t complain|no complaints|"
    r"could be (?:a lot )?worse|we (?:manage|cope)|not (?:something|anything|a thing) (?:that )?"
    r"(?:keeps|bothers|worries)|(?:doesn'?t|does not) (?:really )?(?:bother|worry) (?:me|us)|"
    r"not (?:that |a )?(?:big|huge|major|real) (?:deal|problem|issue|worry))\b",
    re.I,
)
#: Back-channel talk ("Okay.", "Sure, makes sense.") answers nothing, whatever was asked.
ACK = re.compile(
    r"^(?:(?:ok(?:ay)?|sure|right|yes|yeah|yep|yup|no|nope|mm+-?hm+|uh-huh|hmm+|got it|great|"
    r"cool|fine|alright|all right|perfect|sounds good|makes sense|i see|totally|absolutely|"
    r"exactly|of course|interesting|nice|wow|thanks|thank you|good|true|agreed)[\s,.!?]*)+$",
    re.I,
)
#: Concrete details: a negative statement that contains one is still informative.
CONCRETE = re.compile(
    f"(?:{MONEY.pattern})|(?:{PERCENT.pattern})|(?:{QUANTITY.pattern})|(?:{_DATES.pattern})", re.I
)
COMPETITOR = re.compile(
    r"\b(?:competitors?|other vendors?|another vendor|alternatives?|also (?:looking at|talking to|"
    r"evaluating)|shortlist|bake-?off|(?:looking at|talking to|evaluating|comparing) (?:a few|"
    r"two|three|several|other)|incumbent)\b",
    re.I,
)
OBJECTION = re.compile(
    r"\b(?:no budget|budget (?:freeze|cuts?|is tight|is frozen)|too expensive|can'?t afford|"
    r"hiring freeze|on hold|not a priority|low priority|next year at the earliest|"
    r"reorg(?:anization)?|layoffs?|pushed? (?:it )?back|delay(?:ed)?|not (?:the )?right time)\b",
    re.I,
)
NEXT_STEP = re.compile(
    r"\b(?:next steps?|follow[- ]up|follow up|send (?:over|you|it|me|the)|schedule|set up (?:a|"
    r"the|time)|book (?:a|some|time)|calendar invite|circle back|reconvene|get back to you|"
    r"share (?:the|a) (?:proposal|deck|pricing|quote)|loop back|send (?:\w+ ){0,3}(?:slots|"
    r"times|invites?|proposal|quote|deck|summary|recap|information|materials|questionnaire|"
    r"link|pricing|contract|agenda)|(?:i'?ll|we'?ll|let'?s|i will|we will) (?:send|schedule|"
    r"set up|book|follow up|get back|circle back|share|put together|draft|prepare))\b",
    re.I,
)


#: The speaker is the buyer: "I sign", "it's my money", "I decide".
SELF_AUTHORITY = re.compile(
    r"\bi (?:own|control|hold|manage|run) (?:the |our |this )?(?:[\w-]+ ){0,3}budget|"
    r"\bi (?:can |will |would |do )?(?:approve|sign off|sign|make the (?:call|decision)|decide)\b|"
    r"\bapprove (?:it |this |that |the \w+ )?myself\b|\bmy (?:budget|call|decision|signature)\b|"
    r"\b(?:it'?s|it is) (?:my|our) (?:own )?(?:money|company|business|practice|firm|shop)\b|"
    r"\bi'?m the (?:one|person) who (?:signs|approves|decides|pays)\b",
    re.I,
)


#: Dates, months and "then" are about the decision process only in a sentence about buying,
#: deciding or starting ("by March they've stopped coming" is not a timeline).
TIMING_CUES = frozenset({"month", "date", "sequence"})
PROCESS_ANCHOR = re.compile(
    r"\b(?:decid\w*|decision|buy\w*|purchas\w*|sign\w*|live|launch\w*|start\w*|implement\w*|"
    r"install\w*|switch\w*|migrat\w*|roll\w*|pilot\w*|trial\w*|choos\w*|select\w*|pick\w*|"
    r"approv\w*|evaluat\w*|budget\w*|order\w*|contract\w*|vendors?|proposals?|demos?|"
    r"committee|board|council|review\w*|procurement|legal|rfp|tender|renew\w*|deadline|"
    r"timeline|process|steps?|plan\w*|go ahead|move forward|kick\w*)\b",
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
            r"cost per \w+|per (?:rep|week|month|year|day|quarter|hour|seat)|annually|"
            r"how (?:long|much (?:time|effort|money|work)|many|often|fast)|"
            r"(?:do|does|did) (?:you|anyone|somebody|your team) (?:track|measure|count|know how)|"
            r"(?:track|measure|count)(?:s|ed|ing)? (?:it|that|how)|(?:faster|quicker|sooner|"
            r"cheaper)\b)\b",
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
        _cue(
            "outcome",
            0.3,
            r"\b(?:(?:fewer|less|more|faster|quicker|lower|higher|shorter)\s+(?:\w+\s+){0,2}"
            r"(?:waste|penalt\w*|errors?|mistakes?|no[- ]?shows?|complaints?|cancellations?|"
            r"truck rolls|tickets?|hours?|delays?|churn|renewals?|revenue|costs?|overtime|"
            r"returns?|defects?|downtime)|(?:times?|costs?|waste|penalties|churn|errors|numbers?) "
            r"(?:\w+ )?(?:going|go|come|coming|should come|to come) (?:down|up)|"
            r"(?:a good chunk|a big chunk|most|half|a big part|a lot) of (?:their|our|my|the) "
            r"(?:week|day|time|month|morning)|every (?:single )?(?:day|week|month|morning)|"
            r"how many (?:\w+ )?(?:renew|churn|cancel|return|show up|convert)\w*|"
            r"(?:small|big|real|measurable) improvement)\b",
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
        Cue("self", SELF_AUTHORITY, 0.55),
        Cue("title", TITLE, 0.3),
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
            r"the bar is|rejected vendors?|"
            r"(?:it|the (?:\w+ )?(?:tool|system|app|platform|software|solution|product|vendor)|"
            r"whatever we (?:buy|pick|choose|use|get)|whoever we (?:pick|choose)) (?:really )?"
            r"(?:should|must|has to|needs to|would (?:need|have) to|'?d (?:need|have) to|"
            r"will (?:need|have) to|can'?t|cannot|mustn'?t|shouldn'?t)|"
            r"what (?:should|would|must|does|do) (?:a |the |your |this |such a )?(?:\w+ )?"
            r"(?:tool|system|solution|product|platform|vendor|option) (?:need to |have to )?"
            r"(?:do|have|support|offer|cover|handle)|what (?:are you|would you be) looking for|"
            r"how (?:will|would|do) you (?:choose|pick|compare|evaluate|judge|decide between)|"
            r"must (?:plug|connect|sync|"
            r"support|integrate|have|work|pass|be|run|handle)|"
            r"should (?:connect|integrate|sync|work with|support|talk to|pull|plug|run|handle|"
            r"be able)|(?:would|will|'d) (?:need|have) to (?:connect|integrate|sync|work|support|"
            r"run|handle|pass|be)|only if|unless|as long as|provided (?:that|it)|forget it|"
            r"if (?:it|that|this|you) (?:can'?t|cannot|doesn'?t|does not|won'?t|needs|requires|"
            r"means)|(?:is|would be) a (?:must|requirement|condition)|(?:no|any) (?:deal|sale) "
            r"(?:if|without|unless)|otherwise (?:we|i|it)'?(?:re|m|s|ll)? ?(?:not|out|won'?t))\b",
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
            r"roll ?out|go[- ]live|kick[- ]?off|msa|redlines?|purchase order|po|"
            r"(?:board|committee|council|panel|cabinet|partners) (?:meets?|meeting|votes?|"
            r"reviews?|decides?|signs?)|"
            r"(?:sign|review|negotiate|renew|draft|award)\w* (?:the |a |our |their )?contract|"
            r"contract (?:review|negotiation|signature|terms|renew\w*|expires?|ends?|runs? out|"
            r"goes|has to|needs)|"
            r"budget cycle|fiscal year|steps?|timeline|time ?frame|deadline|"
            r"sign the|stakeholders|business case|proposal|"
            r"review|present (?:it|this) to|how (?:would|do|does|will) (?:a |the |you )?"
            r"(?:decision|decide|buy|purchase)|decision (?:gets?|is|would be|will be) made|"
            r"who (?:else )?(?:would|will|should|needs? to|has to|is going to) (?:be (?:involved|"
            r"part of|in on)|weigh in|have a say|sign|approve|decide)|who else is involved|"
            r"part of (?:the|this|that) decision|"
            r"(?:vote|votes|voting) on)\b",
        ),
        Cue("month", MONTHS, 0.3),
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
            r"outages?|(?:went|goes|going) down|idle|burns?|fed up|hang up|on hold|"
            r"furious|angry|livid|upset|embarrass\w*|humiliat\w*|groan\w*|stress(?:ed|ful)|"
            r"(?:could(?:n'?t| not)|can'?t|cannot) find|fell apart|falls? apart|fall(?:s|ing)? "
            r"behind|no[- ]shows?|(?:waited|waiting|wait) (?:for )?(?:\w+ ){0,2}(?:hours?|minutes|"
            r"days|weeks)|gave up|give up|felt (?:forgotten|ignored|lost)|disaster|horrible|"
            r"terrible|awful)\b",
        ),
        _cue(
            "problem",
            0.35,
            r"\b(?:problems?|issues?|challeng\w+|manual(?:ly)?|spreadsheets?|slow|takes forever|"
            r"error[- ]prone|errors|mistakes|inconsistent|unreliable|no visibility|blind spot|"
            r"broken|hate|annoying|tedious|painful|risky|behind|stuck|hard to|difficult|"
            r"can'?t (?:see|track|tell|keep up|scale)|too (?:long|much|many|slow)|rough|clunky|"
            r"backlog|all the time|fighting|outdated|morale|exhausted|time[- ]consuming|"
            r"friction|gaps?|leak\w*|bad|worse|at risk|patchwork|chas(?:e|es|ing)|by hand|"
            r"wrong|retyp\w*|re-?enter\w*|double[- ](?:entry|booking|work)|"
            r"every (?:single )?time|again and again|over and over|" + MINIMIZER.pattern + r")\b",
        ),
    ),
    D.CHAMPION: (
        _cue(
            "asked to help",
            0.5,
            r"\b(?:(?:would|will|could|can) you (?:be (?:willing|able|happy|open) to |be up for |"
            r"help (?:us|me) (?:to )?)?(?:present|share|introduce|champion|advocate|sponsor|push|"
            r"bring (?:this|it|us|me)|take (?:this|it|us) (?:to|forward)|put (?:us|me|this|it) in "
            r"front|help (?:us|me|our))|anything you (?:could|can) do to help|"
            r"(?:on|in) (?:our|my) corner)\b",
        ),
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
            r"brought you in|vouch for|put (?:it|this|you) in front of|"
            r"i'?d like (?:it|this) to be (?:you|yours)|"
            r"make sure (?:the|my|our|your|they|he|she|you) (?:\w+ ){0,2}"
            r"(?:sees?|hears?|gets?|knows?|reads?|looks?))\b",
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
            r"\b(?:i'?ll|i will|i can|let me|i'?m going to|i'?m happy to|i'?d be happy to)\s+"
            r"(?:\w+\s+){0,3}(?:talk|speak|present|share|forward|pitch|raise|recommend|mention|"
            r"tell|set up|walk|convince|sociali[sz]e|run (?:it|this) by|organi[sz]e|coordinate|"
            r"arrange|line up|vouch|back|argue|lobby)\w*\b",
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
        "role": TITLE,
        "named person": re.compile(r"$^"),  # filled by _has_name(), see facets_of()
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
            f"(?:{TITLE.pattern})|\\b(?:it|legal|procurement|security|finance|ops) (?:team|"
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


def person_names(text: str) -> list[str]:
    """Likely person or organisation names: capitalised words that do not start a sentence
    and are not common capitalised words, plus "Dr Patel"-style names in lower-case ASR."""
    names = [w for w in _CAP_WORD.findall(text) if w not in NAME_STOP]
    return names + _HONORIFIC_NAME.findall(text)
