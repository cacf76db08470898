"""Attachments over HTTP (docs/protocol.md): the widget's and the console's uploads, and serving.

Uploads are multipart POSTs, not socket frames: a file is too large for a frame, and a browser
sends a form with its progress. The widget's is authorised as its socket is (the site's
allowed Origin and the visitor's signed token), the console's by the agent's session and CSRF
token. Either way the file is stored and its message committed before the answer says so.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.storage import default_storage
from django.core.handlers.asgi import ASGIRequest
from django.db import DatabaseError, IntegrityError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.bot.services import reply_start
from apps.chat import protocol
from apps.chat.attachments import (
    FORM_OVERHEAD,
    AttachmentRefused,
    LimitedUploadHandler,
    StoredFile,
    attachment_file_store,
    attachment_files_discard,
    attachment_url_valid,
    download_name,
    file_too_large,
)
from apps.chat.events import message_payload
from apps.chat.http import client_ip, cors_allow, error_response
from apps.chat.models import Attachment, Message, Visitor
from apps.chat.selectors import (
    agent_message_by_client_id,
    attachment_for_visitor,
    visitor_get,
    visitor_message_by_client_id,
)
from apps.chat.services import ConversationStatusChanged
from apps.chat.tokens import visitor_token_read
from apps.chat.visitor_messages import (
    VisitorMessageRefused,
    visitor_message_admit,
    visitor_message_send,
)
from apps.core.ratelimit import rate_limit_hit
from apps.handoff.selectors import attachment_for_staff, user_is_agent
from apps.handoff.services.common import TicketConflict, TicketNotFound
from apps.handoff.services.tickets import ticket_reply
from apps.sites.selectors import site_get_by_key, site_origin_allowed

logger = logging.getLogger(__name__)


def _refusal(exc: AttachmentRefused) -> JsonResponse:
    return error_response(exc.status, exc.code, exc.message)


def _unavailable() -> JsonResponse:
    """A full disk or a lost database: JSON either page reads (the widget with its CORS
    headers), saying a retry may work, not Django's HTML 500."""
    return error_response(503, "unavailable", "the server could not store this right now; retry")


def _form_read(request: HttpRequest) -> tuple[dict[str, str], Any]:
    """Parse the multipart body, spooling the file to disk and stopping at the size limit.

    Raises ``AttachmentRefused``: a declared length over the limit is refused before a byte
    of the body is parsed (413; under ASGI ``asgi_limits`` refused it before Django received
    it); a body that is not a complete multipart form is 400.
    """
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > settings.CSBOT_ATTACHMENT_MAX_BYTES + FORM_OVERHEAD:
        raise file_too_large()
    if not request.content_type == "multipart/form-data":
        raise AttachmentRefused(400, "bad_form", "send the file as multipart/form-data")
    handler = LimitedUploadHandler(request)
    request.upload_handlers = [handler]
    try:
        fields, files = request.POST, request.FILES
    except (MultiPartParserError, RequestDataTooBig) as exc:
        raise AttachmentRefused(400, "bad_form", f"the form could not be read: {exc}") from exc
    if handler.too_large:
        raise file_too_large()
    return {key: fields[key] for key in fields}, files.get("file")


def _upload_fields(fields: dict[str, str], *, client_id_required: bool) -> protocol.Upload:
    try:
        return protocol.upload_parse(fields, client_id_required=client_id_required)
    except protocol.FrameError as exc:
        raise AttachmentRefused(400, exc.code, exc.message) from exc


@dataclass(frozen=True)
class _Uploaded:
    response: HttpResponse
    # Set when the bot answers the new message: (conversation id, message id).
    question: tuple[int, int] | None = None


# The widget's page is on another origin and sends no cookie: the token in the form and the
# Origin check keep other sites out, as for the session endpoint (views.widget_session).
@csrf_exempt
@require_http_methods(["POST", "OPTIONS"])
async def widget_attachment(request: HttpRequest, site_key: str) -> HttpResponse:
    """Store a visitor's file as a message of their conversation and acknowledge it.

    The same ``client_id`` sent again (a retry after a lost answer) stores nothing new and
    answers with the stored message (``duplicate``). The bot, if it holds the conversation, is
    started here, on the event loop, as for a message sent on the socket.
    """
    origin = request.headers.get("Origin")
    if request.method == "OPTIONS":
        response: HttpResponse = HttpResponse(status=204)
    else:
        # Shielded: Django cancels the view when the client goes away, but the thread storing
        # the message runs on, and a stored question must get its answer (as on the socket,
        # where a resend is only a duplicate and starts nothing).
        task = asyncio.ensure_future(_visitor_upload_answered(request, site_key, origin))
        _uploads.add(task)
        task.add_done_callback(_uploads.discard)
        response = await asyncio.shield(task)
    return cors_allow(response, origin) if origin else response


# asyncio keeps only weak references to tasks: an upload its client left is held here.
_uploads: set[asyncio.Task[HttpResponse]] = set()


async def _visitor_upload_answered(
    request: HttpRequest, site_key: str, origin: str | None
) -> HttpResponse:
    """Store the upload, then start the bot's reply if it answers it; a database or storage
    error is the answer 503."""
    try:
        uploaded = await sync_to_async(_visitor_upload)(request, site_key, origin)
    except (DatabaseError, OSError):
        logger.exception("could not store a visitor's attachment")
        return _unavailable()
    if uploaded.question is not None:
        conversation_id, question_id = uploaded.question
        # In a context of its own, as from the socket: the request's holds the executor of its
        # thread, shut once a client that left has been let go, and the reply outlives it.
        contextvars.Context().run(
            reply_start, conversation_id=conversation_id, question_id=question_id
        )
    return uploaded.response


def _visitor_upload(request: HttpRequest, site_key: str, origin: str | None) -> _Uploaded:
    site = site_get_by_key(public_key=site_key)
    if site is None:
        return _Uploaded(error_response(404, "unknown_site", "no site has this key"))
    if not site_origin_allowed(site=site, origin=origin):
        return _Uploaded(
            error_response(
                403, "origin_not_allowed", "this page's origin is not allowed for the site"
            )
        )
    try:
        fields, upload = _form_read(request)
        claim = visitor_token_read(fields.get("token", ""))
        visitor = None
        if claim is not None and claim.site_key == site.public_key:
            visitor = visitor_get(public_id=claim.visitor_public_id, site_id=site.pk)
        if visitor is None:
            raise AttachmentRefused(
                401, "unauthorized", "the visitor token is invalid or expired; fetch a new one"
            )
        form = _upload_fields(fields, client_id_required=True)
        _admitted(visitor)
        earlier = visitor_message_by_client_id(visitor_id=visitor.pk, client_id=form.client_id)
        if earlier is not None:
            # Stored already: the file of this retry is not even looked at.
            return _Uploaded(_ack(earlier, client_id=form.client_id, created=False))
        _ip_budget_check(request, upload)
        stored = attachment_file_store(upload=upload, name=form.name)
    except AttachmentRefused as exc:
        return _Uploaded(_refusal(exc))
    return _visitor_message_store(visitor, form, stored)


# The HTTP status of each refusal ``visitor_message_admit`` makes.
_REFUSAL_STATUS = {"email_required": 403, "rate_limited": 429}


def _admitted(visitor: Visitor) -> None:
    """The checks a ``message.send`` passes (``visitor_message_admit``), as
    ``AttachmentRefused``."""
    try:
        visitor_message_admit(visitor=visitor)
    except VisitorMessageRefused as exc:
        raise AttachmentRefused(_REFUSAL_STATUS[exc.code], exc.code, exc.message) from exc


def _ip_budget_check(request: HttpRequest, upload: Any) -> None:
    """Count the file's bytes against its address's hour; ``AttachmentRefused`` (429) past it.

    Visitor tokens cost little (``CSBOT_TOKENS_PER_MINUTE_PER_IP``) and each has its own
    message limit: without this, one address could store gigabytes a minute.
    """
    budget = settings.CSBOT_ATTACHMENT_BYTES_PER_IP_HOUR
    size = getattr(upload, "size", None) or 0
    if size and not rate_limit_hit(
        scope="attachment-bytes",
        key=client_ip(request),
        limit=budget,
        window_seconds=3600,
        cost=size,
    ):
        raise AttachmentRefused(
            429,
            "rate_limited",
            f"at most {_amount(budget)} of files an hour from one address; try again later",
        )


def _amount(size: int) -> str:
    mib = 1024 * 1024
    return f"{size // mib} MiB" if size >= mib else f"{size} bytes"


def _file_discard_unless_held(stored: StoredFile) -> None:
    """Remove the stored file unless an attachment row holds it.

    Called when the store did not finish: the row may be written already (a later step of the
    same call raised, a publish after commit failed), and a retry then finds that row, so its
    file must stay. When even that cannot be asked, the file is kept: ``attachments_sweep``
    removes an orphan, nothing brings back a deleted file.
    """
    try:
        held = Attachment.objects.filter(file=stored.path).exists()
    except DatabaseError:
        logger.warning("could not tell whether %s is held; kept for the sweep", stored.path)
        return
    if not held:
        attachment_files_discard([stored.path])


def _visitor_message_store(
    visitor: Visitor, form: protocol.Upload, stored: StoredFile
) -> _Uploaded:
    """Store the message holding ``stored`` in the visitor's latest conversation, or the next
    one if that was closed (``visitor_message_send``, as a ``message.send``); the file is
    removed unless a row holds it (a concurrent retry stored the message first, an error
    before the row was written)."""
    kept = False
    try:
        received = visitor_message_send(
            visitor=visitor,
            conversation_id=None,
            client_id=form.client_id,
            text=form.caption,
            attachment=stored,
        ).stored
        kept = received.created
    finally:
        if not kept:
            _file_discard_unless_held(stored)
    response = _ack(received.message, client_id=form.client_id, created=received.created)
    if not received.bot_answers:
        return _Uploaded(response)
    return _Uploaded(response, question=(received.message.conversation_id, received.message.pk))


def _ack(message: Message, *, client_id: str, created: bool) -> JsonResponse:
    """What ``message.ack`` says for a text, with the stored message itself."""
    return JsonResponse(
        {
            "client_id": client_id,
            "id": message.pk,
            "seq": message.seq,
            "conversation_id": message.conversation_id,
            "duplicate": not created,
            "message": message_payload(message),
        },
        status=201 if created else 200,
    )


# Parsed here with the size-limited handler, then checked: the CSRF middleware would read
# the body (for a token field) with the default handlers first.
@csrf_exempt
@require_POST
def console_attachment(request: HttpRequest, ticket_id: int) -> HttpResponse:
    """Send the visitor a file as the assignee's reply (``ticket_reply`` checks the ticket)."""
    try:
        return _console_upload(request, ticket_id)
    except (DatabaseError, OSError):
        logger.exception("could not store an agent's attachment")
        return _unavailable()


def _csrf_valid(request: HttpRequest) -> bool:
    """The check ``csrf_protect`` makes, without its HTML failure page: the console reads JSON."""
    check = CsrfViewMiddleware(lambda request: HttpResponse())
    check.process_request(request)
    return check.process_view(request, None, (), {}) is None


def _console_upload(request: HttpRequest, ticket_id: int) -> HttpResponse:
    if not user_is_agent(user=request.user):
        return error_response(403, "forbidden", _("Sign in as an agent to send files."))
    try:
        fields, upload = _form_read(request)
    except AttachmentRefused as exc:
        return _refusal(exc)
    if not _csrf_valid(request):
        return error_response(
            403, "csrf_failed", _("This page's security token expired. Reload it and try again.")
        )
    return _console_attachment_checked(request, ticket_id, fields, upload)


def _console_attachment_checked(
    request: HttpRequest, ticket_id: int, fields: dict[str, str], upload: Any
) -> HttpResponse:
    try:
        # Optional, for older consoles; sent, it makes a retry after a lost answer one reply.
        form = _upload_fields(fields, client_id_required=bool(fields.get("client_id")))
        earlier = _agent_earlier(request, ticket_id, form.client_id)
        if earlier is not None:
            return _console_ack(earlier, created=False)
        stored = attachment_file_store(upload=upload, name=form.name)
    except AttachmentRefused as exc:
        return _refusal(exc)
    kept = False
    try:
        message = ticket_reply(
            ticket_id=ticket_id,
            agent=request.user,
            text=form.caption,
            attachment=stored,
            client_id=form.client_id,
        )
        kept = True
    except TicketNotFound:
        return error_response(404, "not_found", "no such ticket")
    except TicketConflict as exc:
        return error_response(409, exc.code, str(exc))
    except ConversationStatusChanged:
        return error_response(409, "conversation_changed", "the conversation is no longer with you")
    except IntegrityError:
        # The same upload sent twice at once: the other stored it (and this file goes).
        earlier = _agent_earlier(request, ticket_id, form.client_id)
        if earlier is None:
            raise
        return _console_ack(earlier, created=False)
    finally:
        if not kept:
            _file_discard_unless_held(stored)
    return _console_ack(message, created=True)


def _agent_earlier(request: HttpRequest, ticket_id: int, client_id: str) -> Message | None:
    if not client_id:
        return None
    return agent_message_by_client_id(
        ticket_id=ticket_id, agent_id=request.user.pk, client_id=client_id
    )


def _console_ack(message: Message, *, created: bool) -> JsonResponse:
    return JsonResponse(
        {
            "id": message.pk,
            "seq": message.seq,
            "duplicate": not created,
            "message": message_payload(message),
        },
        status=201 if created else 200,
    )


# Larger than FileResponse's 4 KiB: each block is a hop to a thread.
_BLOCK_SIZE = 64 * 1024


async def _file_chunks(stream: Any) -> AsyncIterator[bytes]:
    """The file's bytes, each block read in a thread off the event loop."""
    read = sync_to_async(stream.read, thread_sensitive=False)
    while chunk := await read(_BLOCK_SIZE):
        yield chunk


@require_GET
def attachment_file(request: HttpRequest, attachment_id: int) -> FileResponse:
    """Return the file to the visitor of its conversation (a signed, unexpired URL), an agent
    of a team holding a ticket of it, or an admin; 404 for anyone else, existing or not.

    Served with the sniffed type, never sniffed again by the browser, and in a sandbox with
    nothing allowed: even a file that is more than it seems runs nothing on this origin.
    """
    token = request.GET.get("s", "")
    attachment: Attachment | None = None
    if token and attachment_url_valid(attachment_id=attachment_id, token=token):
        attachment = attachment_for_visitor(attachment_id=attachment_id)
    if attachment is None:
        # Also past a signature's day: a console left open that long still shows its images.
        attachment = attachment_for_staff(user=request.user, attachment_id=attachment_id)
    if attachment is None:
        raise Http404
    try:
        stream = default_storage.open(str(attachment.file.name), "rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(stream, content_type=attachment.content_type)
    if isinstance(request, ASGIRequest):
        # An ASGI server is given an async iterator: a file's sync iterator would be read whole
        # into memory first (and warned about). FileResponse has set the length and closes it.
        response.streaming_content = _file_chunks(stream)
    # Set here, not by FileResponse: it would keep only the name's last path segment.
    disposition = content_disposition_header(
        not attachment.is_image, download_name(attachment.name, attachment.content_type)
    )
    response["Content-Disposition"] = disposition or ""
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=3600"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response
