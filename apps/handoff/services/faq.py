"""The learning loop: an agent's answer becomes a draft FAQ entry an admin reviews and publishes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.urls import reverse

from apps.handoff.models import Ticket
from apps.handoff.services.common import (
    TicketConflict,
    agent_ticket,
    conversation_get,
    publish_ticket,
    record,
)
from apps.knowledge.models import FAQEntry, Language, Status
from apps.knowledge.services.content import faq_create, faq_save


@dataclass(frozen=True)
class FaqDraft:
    faq_id: int
    admin_url: str


def faq_draft_promote(*, ticket_id: int, agent: Any, question: str, answer: str) -> FaqDraft:
    """Save ``question``/``answer`` as a draft FAQ entry of the site's knowledge base.

    The draft is linked to the ticket and is not searchable until an admin publishes it.
    Promoting the same ticket again rewrites its draft while it is still a draft.
    """
    ticket = agent_ticket(agent, ticket_id)
    collection = ticket.site.knowledge_collections.order_by("pk").first()
    if collection is None:
        raise TicketConflict("no_collection", "this site has no knowledge collection yet")
    language = (
        ticket.language if ticket.language in Language.values else ticket.site.default_language
    )
    with transaction.atomic():
        draft = (
            FAQEntry.objects.select_for_update()
            .filter(pk=ticket.faq_entry_id or 0, status=Status.DRAFT)
            .first()
        )
        if draft is not None:
            draft.question, draft.answer = question, answer
            faq_save(faq=draft)
        else:
            draft = faq_create(
                collection=collection,
                question=question,
                answer=answer,
                language=language,
                status=Status.DRAFT,
                source=f"ticket #{ticket.pk}",
            )
            Ticket.objects.filter(pk=ticket.pk).update(faq_entry=draft)
        record(
            conversation_get(ticket.conversation_id),
            "handoff.faq_promoted",
            actor=agent,
            ticket=ticket.pk,
            faq=draft.pk,
        )
        publish_ticket(ticket.pk)
    return FaqDraft(
        faq_id=draft.pk, admin_url=reverse("admin:knowledge_faqentry_change", args=[draft.pk])
    )
