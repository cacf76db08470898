"""Agent assist: the bot's answer to the visitor's last question, for the agent to edit and send.

It runs the same answerer as the bot (``apps.bot.services.answerer_get``) but stores and
publishes nothing: only the agent who asked sees the suggestion.
"""

from __future__ import annotations

from contextlib import aclosing
from dataclasses import dataclass

from apps.bot.answer import AnswerFinal
from apps.bot.services import answerer_get
from apps.chat.events import Citation
from apps.chat.models import Message
from apps.handoff.models import Ticket
from apps.handoff.selectors import handoff_settings_get, visitor_question_latest
from apps.handoff.triggers import phrases_parse
from apps.llm.models import Origin
from apps.llm.services import usage_origin


@dataclass(frozen=True)
class Suggestion:
    text: str
    citations: list[Citation]
    complete: bool
    # False when the answerer found nothing in the knowledge base and said so in its own
    # words ("I couldn't find this… talk to someone from our team?"): no reply for the team.
    grounded: bool


def assist_question(*, ticket: Ticket) -> Message | None:
    """The visitor message to suggest a reply to: their latest real question; None when they
    asked none.

    A bare "yes" / "好的" / "no thanks" to the bot's offer of a person, or a bare "talk to a
    human", says nothing of what they need: the answerer would make small talk of it ("All
    right. Is there anything else…"), which is no reply to suggest. So when every message is
    such, there is no suggestion (the ticket's subject still shows the latest of them).
    """
    policy = handoff_settings_get(site=ticket.site)
    return visitor_question_latest(
        conversation_id=ticket.conversation_id,
        request_phrases=phrases_parse(policy.request_phrases),
    )


async def assist_suggest(*, conversation_id: int, question_id: int) -> Suggestion:
    """Run the answerer on ``question_id`` and keep its final answer (the deltas only stream it)."""
    answerer = answerer_get()
    run = answerer(conversation_id=conversation_id, question_id=question_id)
    with usage_origin(Origin.ASSIST):
        async with aclosing(run) as events:
            async for event in events:
                if isinstance(event, AnswerFinal):
                    return Suggestion(
                        text=event.text,
                        citations=list(event.citations),
                        complete=event.complete,
                        grounded=event.grounded,
                    )
    raise RuntimeError("the answerer ended without an AnswerFinal")
