"""Agent presence from console sockets: a live socket means present; the agent picks online/away.

Each console socket is a row refreshed by the console's pings, so presence is shared by every
worker and a worker that dies takes its agents offline once their rows go stale.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.handoff import events
from apps.handoff.models import AgentProfile, AgentSession
from apps.handoff.selectors import (
    AgentPayload,
    agent_presence,
    agent_site_ids,
    agent_team_ids,
    display_name,
)
from apps.handoff.services.assignment import tickets_autoassign

# Rows this old belong to sockets of workers long gone.
_SESSION_RETENTION = dt.timedelta(days=1)


def _publish_presence(user: Any) -> None:
    def publish() -> None:
        now = timezone.now()
        agent: AgentPayload = {
            "id": user.pk,
            "name": display_name(user),
            "presence": agent_presence(user=user, at=now),
            "team_ids": agent_team_ids(user=user),
        }
        events.presence_changed(agent=agent, site_ids=agent_site_ids(user=user))

    transaction.on_commit(publish)


def _autoassign_for(user: Any) -> None:
    for site_id in agent_site_ids(user=user):
        tickets_autoassign(site_id=site_id)


def agent_session_open(*, user: Any, channel_name: str) -> AgentProfile:
    """Register a console socket; the agent is present (and may be given waiting tickets)."""
    now = timezone.now()
    with transaction.atomic():
        AgentSession.objects.filter(seen_at__lt=now - _SESSION_RETENTION).delete()
        AgentSession.objects.update_or_create(
            channel_name=channel_name, defaults={"user": user, "seen_at": now}
        )
        profile, _ = AgentProfile.objects.get_or_create(user=user)
        _publish_presence(user)
    _autoassign_for(user)
    return profile


def agent_session_seen(*, channel_name: str) -> None:
    AgentSession.objects.filter(channel_name=channel_name).update(seen_at=timezone.now())


def agent_session_close(*, user: Any, channel_name: str) -> None:
    """Forget a console socket. The socket then calls ``handoffs_release_later``: waiting
    visitors nobody can take any more are offered the leave-a-message form after a grace."""
    with transaction.atomic():
        AgentSession.objects.filter(channel_name=channel_name).delete()
        _publish_presence(user)


def agent_availability_set(*, user: Any, availability: str) -> AgentProfile:
    """Set online or away; an agent going online may be given waiting tickets."""
    if availability not in AgentProfile.Availability.values:
        raise ValueError(f"availability is one of {AgentProfile.Availability.values}")
    with transaction.atomic():
        profile, _ = AgentProfile.objects.get_or_create(user=user)
        AgentProfile.objects.filter(pk=profile.pk).update(availability=availability)
        profile.availability = availability
        _publish_presence(user)
    if availability == AgentProfile.Availability.ONLINE:
        _autoassign_for(user)
    return profile
