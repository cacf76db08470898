"""Opening a handoff: the bot, the visitor's words or button, or a message left offline."""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.bot.normalise import language_detect, turn_language
from apps.chat.attachments import StoredFile
from apps.chat.models import Conversation, ConversationEvent, Message
from apps.chat.selectors import conversation_language
from apps.chat.services import (
    ConversationStatusChanged,
    conversation_language_set,
    conversation_status_move,
    message_create,
    message_create_from_visitor,
)
from apps.handoff.details import HandoffDetail, detail_fields
from apps.handoff.models import HandoffSettings, Team, Ticket
from apps.handoff.selectors import (
    handoff_availability,
    handoff_settings_get,
    handoff_unavailable_told,
    team_for_new_ticket,
    ticket_active_for_conversation,
    ticket_subject_message,
)
from apps.handoff.services.assignment import tickets_autoassign
from apps.handoff.services.common import (
    HandoffOutcome,
    Status,
    announce,
    announce_text,
    conversation_get,
    publish_status,
    publish_ticket,
    publish_unavailable,
    record,
)
from apps.handoff.services.stranded import handoff_waiting_release
from apps.handoff.services.tickets import ticket_visitor_replied
from apps.handoff.sla import business_deadline
from apps.handoff.texts import sentences, team_has_it, text_for
from apps.handoff.triggers import keyword_trigger, phrases_parse
from apps.handoff.waits import queue_position, queue_words, typical_wait
from apps.handoff.webhooks import webhook_deliveries_enqueue

# --- opening a ticket ------------------------------------------------------------------------


def _sla_due(site: Any, start: dt.datetime, minutes: int) -> dt.datetime:
    return business_deadline(
        start=start,
        minutes=minutes,
        windows=list(site.business_hours.all()),
        time_zone=site.time_zone,
    )


def _ticket_for_handoff(
    *,
    conversation: Conversation,
    reason: str,
    detail: HandoffDetail | None,
    channel: str,
    policy: HandoffSettings,
    team: Team | None,
    contact_name: str = "",
    contact_email: str = "",
) -> tuple[Ticket, bool]:
    """The conversation's active ticket, or a new one with its SLA clocks running."""
    active = ticket_active_for_conversation(conversation_id=conversation.pk)
    if active is not None:
        return active, False
    now = timezone.now()
    question = ticket_subject_message(
        conversation_id=conversation.pk, request_phrases=phrases_parse(policy.request_phrases)
    )
    priority = (
        Ticket.Priority.HIGH
        if reason == Ticket.Reason.NEGATIVE_SENTIMENT
        else Ticket.Priority.NORMAL
    )
    try:
        with transaction.atomic():
            ticket = Ticket.objects.create(
                site=conversation.site,
                conversation=conversation,
                visitor=conversation.visitor,
                reason=reason,
                **detail_fields(detail),
                channel=channel,
                priority=priority,
                team=team,
                language=conversation_language(conversation),
                subject=(question.text if question is not None else "")[:200],
                contact_name=contact_name,
                contact_email=contact_email,
                first_response_due_at=_sla_due(
                    conversation.site, now, policy.first_response_minutes
                ),
                resolution_due_at=_sla_due(conversation.site, now, policy.resolution_minutes),
            )
    except IntegrityError:
        # A left message and a live request raced: the other one opened the ticket.
        existing = ticket_active_for_conversation(conversation_id=conversation.pk)
        if existing is None:
            raise
        return existing, False
    webhook_deliveries_enqueue(site_id=ticket.site_id, event="ticket.created", ticket=ticket)
    return ticket, True


def _announce_team_has_it(conversation: Conversation, ticket: Ticket) -> None:
    language = conversation_language(conversation)
    # Replies are emailed for a left message only (apps/handoff/mail.py).
    email = ticket.contact_email if ticket.channel == Ticket.Channel.MESSAGE else ""
    announce_text(
        conversation,
        sentences(
            language, team_has_it(language, email=email), text_for("team_has_it_add", language)
        ),
    )


def handoff_request(
    *, conversation_id: int, reason: str, detail: HandoffDetail | None = None, by: str = "bot"
) -> HandoffOutcome:
    """Hand a conversation the bot holds to humans, or tell the visitor nobody can take it now.

    For the answering pipeline (``reason`` from ``Ticket.Reason``: missing_knowledge,
    repeated_failure, content_filter, model_unavailable…) and the visitor's socket
    (customer_request). Once this returns ``waiting`` the bot can send nothing more: an answer
    still being generated is dropped, and the system message tells the visitor an agent comes.
    """
    if reason not in Ticket.Reason.values:
        raise ValueError(f"unknown handoff reason {reason!r}")
    conversation = conversation_get(conversation_id)
    if conversation.status == Status.WAITING:
        # Asking again while waiting (the widget does on reconnecting): nobody left to take it
        # offers the form, keeping the ticket.
        released = handoff_waiting_release(conversation_id=conversation_id)
        if released is not None:
            return released
    if conversation.status != Status.BOT:
        active = ticket_active_for_conversation(conversation_id=conversation_id)
        return HandoffOutcome("unchanged", ticket_id=active.pk if active else None)
    policy = handoff_settings_get(site=conversation.site)
    team = team_for_new_ticket(site=conversation.site, policy=policy)
    availability = handoff_availability(site=conversation.site, team=team, at=timezone.now())
    if not availability.ok:
        active = ticket_active_for_conversation(conversation_id=conversation_id)
        if active is not None:
            # A message left (or a ticket whose agents went offline): the team has it, and a
            # second form would only ask for it again. What they write next is on that ticket.
            _announce_team_has_it(conversation, active)
            return HandoffOutcome("unchanged", ticket_id=active.pk)
        if handoff_unavailable_told(conversation_id=conversation_id, why=availability.reason):
            # Told already: the notice once per unavailability, not after every miss. A visitor
            # asking for a person again gets the form back (they may have closed it).
            if by == "visitor" or reason == Ticket.Reason.CUSTOMER_REQUEST:
                publish_unavailable(conversation_id, availability)
            return HandoffOutcome("unavailable", unavailable_reason=availability.reason)
        with transaction.atomic():
            record(
                conversation,
                "handoff.unavailable",
                reason=reason,
                **detail_fields(detail),
                by=by,
                why=availability.reason,
            )
            announce(conversation, f"unavailable_{availability.reason}")
            publish_unavailable(conversation_id, availability)
        return HandoffOutcome("unavailable", unavailable_reason=availability.reason)
    with transaction.atomic():
        if not conversation_status_move(
            conversation_id=conversation_id, from_statuses=[Status.BOT], to_status=Status.WAITING
        ):
            return HandoffOutcome("unchanged")
        ticket, _ = _ticket_for_handoff(
            conversation=conversation,
            reason=reason,
            detail=detail,
            channel=Ticket.Channel.CHAT,
            policy=policy,
            team=team,
        )
        record(
            conversation,
            "handoff.requested",
            reason=reason,
            **detail_fields(detail),
            by=by,
            ticket=ticket.pk,
        )
        announce(conversation, "waiting")
        publish_status(conversation_id, Status.WAITING, reason)
        publish_ticket(ticket.pk)
    if policy.assignment == HandoffSettings.Assignment.ROUND_ROBIN and ticket.pk in (
        tickets_autoassign(site_id=conversation.site_id)
    ):
        return HandoffOutcome("assigned", ticket_id=ticket.pk)
    _announce_queue(conversation, ticket)
    return HandoffOutcome("waiting", ticket_id=ticket.pk)


def _announce_queue(conversation: Conversation, ticket: Ticket) -> None:
    """Tell a visitor who starts waiting their place in the queue, and the wait measured there.

    Nothing when they are first and there is no measured wait: "An agent will join shortly"
    has said it all.
    """
    if ticket.team_id is None:
        return  # never waiting: without a team nobody is online to take it
    position = queue_position(ticket=ticket, team_id=ticket.team_id)
    wait = typical_wait(site_id=ticket.site_id, team_id=ticket.team_id, at=timezone.now())
    if position == 1 and wait is None:
        return
    text = queue_words(position=position, wait=wait, language=conversation_language(conversation))
    # An agent who took it meanwhile: there is no queue to stand in, and nothing is said.
    with contextlib.suppress(ConversationStatusChanged):
        message_create(
            conversation_id=conversation.pk,
            author_kind=Message.AuthorKind.SYSTEM,
            text=text,
            owner=Status.WAITING,
        )


def handoff_triggers_check(*, conversation: Conversation, text: str) -> HandoffOutcome | None:
    """Hand over if the visitor's words ask for a human or show strong frustration.

    Call before the bot answers a visitor message; ``None`` means answer as usual.
    """
    policy = handoff_settings_get(site=conversation.site)
    match = keyword_trigger(
        text,
        request_phrases=phrases_parse(policy.request_phrases),
        frustration_phrases=phrases_parse(policy.frustration_phrases),
    )
    if match is None:
        return None
    return handoff_request(
        conversation_id=conversation.pk,
        reason=match.reason,
        detail=HandoffDetail("keyword", {"phrase": match.phrase}),
        by="visitor",
    )


def conversation_language_follow(*, conversation_id: int, text: str) -> None:
    """Hold the conversation in the language of the visitor's latest message that shows one.

    Every line of a turn then speaks it: the bot's (which follows the message) and handoff's
    and agents' system lines (which read ``Conversation.language``). "ok" or an order number
    show none and change nothing; nor does a fragment in the other language after an earlier
    message ("and for electronics?" after "保修多久？", ``turn_language``): the visitor still
    reads the conversation's language, and the ticket is still in it.
    """
    spoken = language_detect(text, fallback="")
    if not spoken:
        return
    conversation = Conversation.objects.only("language").get(pk=conversation_id)
    # The message itself is stored already: a second visitor message is an earlier one.
    follows = Message.objects.filter(
        conversation_id=conversation_id, author_kind=Message.AuthorKind.VISITOR
    )[1:2].exists()
    spoken = turn_language(text, established=conversation.language, follows=follows)
    conversation_language_set(conversation_id=conversation_id, language=spoken, replace=True)


@dataclass(frozen=True)
class VisitorMessageReceived:
    message: Message
    created: bool
    # The bot still holds the conversation after this message: it should answer it.
    bot_answers: bool


def visitor_message_receive(
    *, conversation_id: int, client_id: str, text: str, attachment: StoredFile | None = None
) -> VisitorMessageReceived:
    """Store a visitor's message once per ``client_id`` and act on a new one: hand over when
    its words ask for a human, reopen a ticket that waited on the visitor.

    One call for the socket, so the question queues once for the worker's database thread
    before it is acknowledged, not three times. Raises ``ConversationStatusChanged`` for a
    closed conversation: the message belongs in a new one.
    """
    conversation = conversation_get(conversation_id)
    stored = message_create_from_visitor(
        conversation=conversation, client_id=client_id, text=text, attachment=attachment
    )
    if stored.created:
        # Before the triggers: "转人工" from an English browser is told in Chinese.
        conversation_language_follow(conversation_id=conversation_id, text=text)
    bot_answers = False
    if stored.created and conversation.status == Conversation.Status.BOT:
        bot_answers = handoff_triggers_check(conversation=conversation, text=text) is None
    elif stored.created and conversation.status == Conversation.Status.AGENT:
        ticket_visitor_replied(conversation_id=conversation_id)
    elif stored.created and conversation.status == Conversation.Status.WAITING:
        # Nobody left to take it: the form, not a wait for ever (the bot does not answer this).
        handoff_waiting_release(conversation_id=conversation_id)
    return VisitorMessageReceived(stored.message, created=stored.created, bot_answers=bot_answers)


def _visitor_contact_fill(visitor: Any, *, name: str, email: str) -> None:
    """Keep what the visitor typed in the form unless the host page identified them already."""
    missing = {"name": name, "email": email}
    updates = {
        field: value for field, value in missing.items() if value and not getattr(visitor, field)
    }
    if updates:
        type(visitor).objects.filter(pk=visitor.pk).update(**updates)


@dataclass(frozen=True)
class LeftMessage:
    ticket: Ticket
    message: Message


def ticket_leave_message(
    *, conversation_id: int, client_id: str, name: str, email: str, text: str
) -> LeftMessage:
    """Store a message left while nobody could chat, and open a ticket an agent answers later.

    The reply reaches the visitor in the widget when they come back, and by email. Sending the
    same ``client_id`` again returns the same ticket and stores nothing new.
    """
    conversation = conversation_get(conversation_id)
    stored = message_create_from_visitor(conversation=conversation, client_id=client_id, text=text)
    if not stored.created:
        # The ticket it went to, even solved or handed back since: a resend after a lost ack
        # opens nothing new. None only when the first attempt stopped before the ticket.
        left = (
            ConversationEvent.objects.filter(
                conversation_id=stored.message.conversation_id,
                kind="handoff.message_left",
                data__message=stored.message.pk,
            )
            .values_list("data__ticket", flat=True)
            .first()
        )
        ticket = (
            Ticket.objects.get(pk=left)
            if left is not None
            else ticket_active_for_conversation(conversation_id=conversation_id)
        )
        if ticket is not None:
            return LeftMessage(ticket, stored.message)
    _visitor_contact_fill(conversation.visitor, name=name, email=email)
    unavailable = (
        ConversationEvent.objects.filter(conversation=conversation, kind="handoff.unavailable")
        .order_by("-created_at", "-pk")
        .first()
    )
    reason = unavailable.data.get("reason") if unavailable is not None else None
    policy = handoff_settings_get(site=conversation.site)
    with transaction.atomic():
        ticket, created = _ticket_for_handoff(
            conversation=conversation,
            reason=reason if reason in Ticket.Reason.values else Ticket.Reason.CUSTOMER_REQUEST,
            detail=HandoffDetail("left_message"),
            channel=Ticket.Channel.MESSAGE,
            policy=policy,
            team=team_for_new_ticket(site=conversation.site, policy=policy),
            contact_name=name,
            contact_email=email,
        )
        if not created:
            # The latest form says where to reply: a corrected address, as announced below. A
            # chat ticket nobody took (everyone went offline) becomes a left message: the
            # replies are emailed too. One an agent has is a live chat still.
            ticket.contact_name = name or ticket.contact_name
            ticket.contact_email = email or ticket.contact_email
            if ticket.assignee_id is None and ticket.status == Ticket.Status.NEW:
                ticket.channel = Ticket.Channel.MESSAGE
            ticket.save(update_fields=["contact_name", "contact_email", "channel", "updated_at"])
        record(
            conversation,
            "handoff.message_left",
            by="visitor",
            ticket=ticket.pk,
            message=stored.message.pk,
        )
        announce(conversation, "message_left", email=email)
        publish_ticket(ticket.pk)
    return LeftMessage(ticket, stored.message)
