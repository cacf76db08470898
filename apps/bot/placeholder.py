"""The answerer used until the answering pipeline is configured: it says so plainly."""

from __future__ import annotations

from collections.abc import AsyncIterator

from django.utils.translation import gettext as _

from apps.bot.answer import AnswerEvent, AnswerFinal


async def answer_not_configured(
    *, conversation_id: int, question_id: int
) -> AsyncIterator[AnswerEvent]:
    yield AnswerFinal(text=_("Automatic answers are not configured on this site yet."))
