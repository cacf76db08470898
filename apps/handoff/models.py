from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.chat.models import Conversation, Visitor
from apps.sites.models import Language, Site

DEFAULT_REQUEST_PHRASES = "\n".join(
    [
        "人工",
        "转人工",
        "人工客服",
        "客服",
        "真人",
        "有人吗",
        "有人在吗",
        "找工作人员",
        "联系工作人员",
        "human",
        "agent",
        "real person",
        "operator",
        # Whole phrases, not "someone": "can someone tell me the price" is a question.
        "speak to someone",
        "speak with someone",
        "talk to someone",
        "talk with someone",
        "speak to a person",
        "speak with a person",
        "talk to a person",
        "talk with a person",
    ]
)
DEFAULT_FRUSTRATION_PHRASES = "\n".join(
    [
        "投诉",
        "垃圾",
        "太差",
        "气死",
        "骗子",
        "什么破",
        "没用",
        "生气",
        "愤怒",
        "差评",
        "恶心",
        "useless",
        "terrible",
        "ridiculous",
        "worst",
        "scam",
        "complaint",
        "not helpful",
        "furious",
        "angry",
        "unacceptable",
        "fed up",
        "disgusting",
    ]
)


def _new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


class Team(models.Model):
    """A group of agents of one site; a ticket belongs to a team and only its members see it."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(_("name"), max_length=100)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="handoff_teams",
        verbose_name=_("members"),
        help_text=_("Staff users in the Agents group."),
    )

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["site", "name"]
        constraints = [
            models.UniqueConstraint(fields=["site", "name"], name="handoff_team_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.site})"


class HandoffSettings(models.Model):
    """How one site hands conversations to humans. A site without a row uses the defaults."""

    class Assignment(models.TextChoices):
        MANUAL = "manual", _("agents claim tickets from the queue")
        ROUND_ROBIN = "round_robin", _("round-robin among online agents with free capacity")

    site = models.OneToOneField(Site, on_delete=models.CASCADE, related_name="handoff_settings")
    request_phrases = models.TextField(
        _("phrases that ask for a human"),
        default=DEFAULT_REQUEST_PHRASES,
        blank=True,
        help_text=_(
            "One per line. Chinese phrases match anywhere in a message, others as whole words."
        ),
    )
    frustration_phrases = models.TextField(
        _("phrases of strong frustration"),
        default=DEFAULT_FRUSTRATION_PHRASES,
        blank=True,
        help_text=_("One per line; a match hands the conversation over with high priority."),
    )
    abstain_limit = models.PositiveSmallIntegerField(
        _("abstentions before handoff"),
        default=2,
        help_text=_("The bot hands over after this many answers in a row it could not ground."),
    )
    assignment = models.CharField(
        _("assignment"), max_length=12, choices=Assignment.choices, default=Assignment.MANUAL
    )
    default_team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("default team"),
        help_text=_("New tickets go to this team; empty: the site's first team."),
    )
    first_response_minutes = models.PositiveIntegerField(
        _("first response within (business minutes)"), default=10
    )
    resolution_minutes = models.PositiveIntegerField(
        _("resolution within (business minutes)"), default=8 * 60
    )

    class Meta:
        verbose_name = _("handoff settings")
        verbose_name_plural = _("handoff settings")

    def __str__(self) -> str:
        return str(self.site)


class AgentProfile(models.Model):
    """An agent's chosen availability and how many live chats they take at once."""

    class Availability(models.TextChoices):
        ONLINE = "online", _("online")
        AWAY = "away", _("away")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_profile"
    )
    availability = models.CharField(
        _("availability"), max_length=10, choices=Availability.choices, default=Availability.ONLINE
    )
    capacity = models.PositiveSmallIntegerField(
        _("capacity"), default=3, help_text=_("Open tickets round-robin may assign at once.")
    )
    # Round-robin hands the next ticket to the online agent assigned longest ago.
    last_assigned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("agent profile")
        verbose_name_plural = _("agent profiles")

    def __str__(self) -> str:
        return str(self.user)


class AgentSession(models.Model):
    """One open console socket; an agent with a fresh session is present."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_sessions"
    )
    channel_name = models.CharField(max_length=200, unique=True)
    opened_at = models.DateTimeField(auto_now_add=True)
    # Refreshed by the console's pings; a session not seen for a while died with its worker.
    seen_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["user", "seen_at"])]

    def __str__(self) -> str:
        return f"{self.user} {self.channel_name}"


class Ticket(models.Model):
    """One handoff of a conversation to humans, from the request until it is solved."""

    class Status(models.TextChoices):
        NEW = "new", _("new")
        OPEN = "open", _("open")
        PENDING = "pending", _("pending")
        SOLVED = "solved", _("solved")
        CLOSED = "closed", _("closed")

    class Priority(models.TextChoices):
        LOW = "low", _("low")
        NORMAL = "normal", _("normal")
        HIGH = "high", _("high")
        URGENT = "urgent", _("urgent")

    class Reason(models.TextChoices):
        CUSTOMER_REQUEST = "customer_request", _("the visitor asked for a human")
        MISSING_KNOWLEDGE = "missing_knowledge", _("the knowledge base has no answer")
        REPEATED_FAILURE = "repeated_failure", _("the bot failed several times in a row")
        NEGATIVE_SENTIMENT = "negative_sentiment", _("the visitor is frustrated")
        CONTENT_FILTER = "content_filter", _("the guard stopped the answer")
        MODEL_UNAVAILABLE = "model_unavailable", _("no model could answer")
        INTERRUPTED = "interrupted", _("the answer stopped mid-stream")

    class Channel(models.TextChoices):
        CHAT = "chat", _("live chat")
        MESSAGE = "message", _("left a message")

    ACTIVE = (Status.NEW, Status.OPEN, Status.PENDING)

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="tickets")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="tickets")
    visitor = models.ForeignKey(Visitor, on_delete=models.CASCADE, related_name="tickets")
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.NEW
    )
    priority = models.CharField(
        _("priority"), max_length=10, choices=Priority.choices, default=Priority.NORMAL
    )
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices)
    detail = models.CharField(_("detail"), max_length=500, blank=True)
    # The detail as a code and its values (apps/handoff/details.py): the console words it in
    # the agent's language.
    detail_code = models.CharField(max_length=32, blank=True, editable=False)
    detail_values = models.JSONField(default=dict, blank=True, editable=False)
    channel = models.CharField(
        _("channel"), max_length=10, choices=Channel.choices, default=Channel.CHAT
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tickets",
    )
    tags = models.JSONField(_("tags"), default=list, blank=True)
    language = models.CharField(_("language"), max_length=16, blank=True)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    contact_name = models.CharField(_("contact name"), max_length=200, blank=True)
    contact_email = models.EmailField(_("contact email"), blank=True)
    # A left message's replies are emailed together once this is due, unless the visitor read
    # them in the widget first (apps/handoff/mail.py); the last message emailed so far.
    reply_email_due_at = models.DateTimeField(null=True, blank=True, editable=False)
    reply_emailed_seq = models.PositiveIntegerField(default=0, editable=False)
    # Sends of the due email the mail server refused in a row (apps/handoff/mail.py retries).
    reply_email_attempts = models.PositiveSmallIntegerField(default=0, editable=False)
    # The last message of the conversation the assignee (while there is none, anyone of the
    # team) had on screen in the console: the queue's unread counts start after it.
    agent_seen_seq = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    assigned_at = models.DateTimeField(_("assigned"), null=True, blank=True)
    first_response_due_at = models.DateTimeField(_("first response due"), null=True, blank=True)
    first_responded_at = models.DateTimeField(_("first response"), null=True, blank=True)
    resolution_due_at = models.DateTimeField(_("resolution due"), null=True, blank=True)
    # While the ticket waits on the visitor its resolution clock stands still (docs/handoff.md).
    pending_since = models.DateTimeField(_("pending since"), null=True, blank=True)
    solved_at = models.DateTimeField(_("solved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    # The draft FAQ entry an agent wrote from this ticket, for an admin to review and publish.
    faq_entry = models.ForeignKey(
        "knowledge.FAQEntry",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="source_tickets",
        verbose_name=_("FAQ draft"),
    )

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        ordering = ["-created_at"]
        constraints = [
            # One handoff at a time: asking again while a ticket is active reuses it.
            models.UniqueConstraint(
                fields=["conversation"],
                condition=models.Q(status__in=["new", "open", "pending"]),
                name="handoff_ticket_one_active_per_conversation",
            )
        ]
        indexes = [
            models.Index(fields=["team", "status"]),
            models.Index(fields=["assignee", "status"]),
            models.Index(
                fields=["reply_email_due_at"],
                condition=models.Q(reply_email_due_at__isnull=False),
                name="handoff_ticket_email_due",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject[:40]}"


class TicketNote(models.Model):
    """An internal note on a ticket, for agents only: never sent to the visitor."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField(_("text"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("internal note")
        verbose_name_plural = _("internal notes")
        ordering = ["ticket", "created_at", "pk"]

    def __str__(self) -> str:
        return f"#{self.ticket_id} {self.text[:40]}"


class CannedReply(models.Model):
    """A saved answer agents insert by typing ``/shortcut`` in the console."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="canned_replies")
    language = models.CharField(
        _("language"),
        max_length=10,
        choices=Language.choices,
        blank=True,
        help_text=_("Empty: offered whatever the visitor's language."),
    )
    shortcut = models.SlugField(_("shortcut"), max_length=40, allow_unicode=True)
    title = models.CharField(_("title"), max_length=200)
    text = models.TextField(
        _("text"), help_text=_("{visitor} and {agent} are replaced by the names.")
    )

    class Meta:
        verbose_name = _("canned reply")
        verbose_name_plural = _("canned replies")
        ordering = ["site", "shortcut", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "language", "shortcut"], name="handoff_canned_unique_shortcut"
            )
        ]

    def __str__(self) -> str:
        return f"/{self.shortcut} {self.title}"


class Webhook(models.Model):
    """An existing helpdesk that hears of tickets: a signed JSON POST per event, retried."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(_("URL"), max_length=500)
    secret = models.CharField(
        _("signing secret"),
        max_length=100,
        default=_new_webhook_secret,
        help_text=_("The receiver checks X-Csbot-Signature with it (docs/handoff.md)."),
    )
    on_ticket_created = models.BooleanField(_("ticket created"), default=True)
    on_ticket_solved = models.BooleanField(_("ticket solved"), default=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    """One event to POST to one webhook, with its attempts."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        DELIVERED = "delivered", _("delivered")
        FAILED = "failed", _("failed")

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    # Set by the worker that claimed the attempt, so two workers never post it twice at once.
    locked_until = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.event} → {self.webhook}"
