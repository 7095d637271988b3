"""Semantic side of the labelling, as data: prototype sentences per MEDDIC dimension and
background (small talk, pitch) sentences that a sentence must be closer to a dimension than to.

The eval forbids any overlap between these and the eval calls (tests/unit/eval)."""

from __future__ import annotations

from collections.abc import Mapping

from callstream_common.contracts import MeddicDimension

D = MeddicDimension

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
    "Email me a brochure and I'll read it later.",
    "I'll forward the materials once I've had a chance to look.",
)
