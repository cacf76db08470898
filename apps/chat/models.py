from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.sites.models import Site


class Visitor(models.Model):
    """A browser that opened the widget on a site; identified by a signed token it keeps."""

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, related_name="visitors", verbose_name=_("site")
    )
    name = models.CharField(_("name"), max_length=200, blank=True)
    email = models.EmailField(_("email"), blank=True)
    external_id = models.CharField(_("external id"), max_length=200, blank=True)
    language = models.CharField(_("language"), max_length=16, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True)
    # The page the widget was last opened on, as its hello said: what the agents see first.
    page_url = models.URLField(_("last page"), max_length=2000, blank=True)
    page_title = models.CharField(_("last page title"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("visitor")
        verbose_name_plural = _("visitors")

    def __str__(self) -> str:
        return self.name or self.email or str(self.public_id)


class Conversation(models.Model):
    class Status(models.TextChoices):
        BOT = "bot", _("with the bot")
        WAITING = "waiting", _("waiting for an agent")
        AGENT = "agent", _("with an agent")
        CLOSED = "closed", _("closed")

    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, related_name="conversations", verbose_name=_("site")
    )
    visitor = models.ForeignKey(
        Visitor, on_delete=models.CASCADE, related_name="conversations", verbose_name=_("visitor")
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.BOT
    )
    # The highest seq handed out; allocation locks the row (services.message_seq_next).
    last_seq = models.PositiveIntegerField(_("last sequence number"), default=0)
    # The last message the visitor's widget showed on screen (the `read` frame).
    visitor_read_seq = models.PositiveIntegerField(
        _("read by the visitor up to"), default=0, editable=False
    )
    language = models.CharField(_("language"), max_length=16, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        indexes = [models.Index(fields=["visitor", "-created_at"]), models.Index(fields=["status"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.visitor}"


class Message(models.Model):
    class AuthorKind(models.TextChoices):
        VISITOR = "visitor", _("visitor")
        BOT = "bot", _("bot")
        AGENT = "agent", _("agent")
        SYSTEM = "system", _("system")

    class State(models.TextChoices):
        STREAMING = "streaming", _("streaming")
        COMPLETE = "complete", _("complete")
        INTERRUPTED = "interrupted", _("interrupted")

    conversation = models.ForeignKey(
        Conversation,
        on_delete=models.CASCADE,
        related_name="messages",
        verbose_name=_("conversation"),
    )
    seq = models.PositiveIntegerField(_("sequence number"))
    author_kind = models.CharField(_("sender type"), max_length=10, choices=AuthorKind.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("sent by"),
    )
    text = models.TextField(_("text"), blank=True)
    # [{"n": 1, "title": ..., "url": ...}], as shown to the visitor.
    citations = models.JSONField(_("citations"), default=list, blank=True)
    client_id = models.CharField(_("client id"), max_length=64, blank=True)
    state = models.CharField(
        _("status"), max_length=12, choices=State.choices, default=State.COMPLETE
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["conversation", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="message_unique_seq"),
            models.UniqueConstraint(
                fields=["conversation", "client_id"],
                condition=~models.Q(client_id=""),
                name="message_unique_client_id",
            ),
        ]
        indexes = [
            # A streaming message's updated_at is its writer's heartbeat; the sweep looks for
            # old ones (apps/bot/services.py replies_recover). Few rows stream at any time.
            models.Index(
                fields=["updated_at"],
                condition=models.Q(state="streaming"),
                name="message_streaming_heartbeat",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.conversation_id}#{self.seq} {self.author_kind}"


class ConversationEvent(models.Model):
    """Something that happened to a conversation besides a message: a status change and why."""

    conversation = models.ForeignKey(
        Conversation,
        on_delete=models.CASCADE,
        related_name="events",
        verbose_name=_("conversation"),
    )
    kind = models.CharField(_("event"), max_length=40)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("by"),
    )
    data = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        verbose_name = _("conversation event")
        verbose_name_plural = _("conversation events")
        ordering = ["conversation", "created_at", "pk"]
        indexes = [models.Index(fields=["kind", "created_at"])]

    def __str__(self) -> str:
        return f"{self.conversation_id} {self.kind}"


class Attachment(models.Model):
    """A file sent with a message (docs/protocol.md): one per message, stored under a random
    name in the default storage; ``name`` is only ever shown, never used as a path."""

    class Kind(models.TextChoices):
        PNG = "image/png", "PNG"
        JPEG = "image/jpeg", "JPEG"
        GIF = "image/gif", "GIF"
        WEBP = "image/webp", "WebP"
        PDF = "application/pdf", "PDF"

    message = models.OneToOneField(
        Message, on_delete=models.CASCADE, related_name="attachment", verbose_name=_("message")
    )
    file = models.FileField(_("file"), max_length=200)
    # As the sender named it, byte for byte, but for the personal data a site that masks it
    # has masked in a visitor's (shown escaped, served as the download's name).
    name = models.CharField(_("file name"), max_length=500)
    # Sniffed from the file's first bytes, never the sender's word.
    content_type = models.CharField(_("type"), max_length=40, choices=Kind.choices)
    size = models.PositiveBigIntegerField(_("size in bytes"))
    width = models.PositiveIntegerField(_("width"), null=True, blank=True)
    height = models.PositiveIntegerField(_("height"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.name

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")
