"""README command 1 creates a demo agent who can use the console at once."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from apps.handoff.models import CannedReply, HandoffSettings, Team
from apps.handoff.selectors import user_is_agent

pytestmark = pytest.mark.django_db


def test_the_demo_agent_can_sign_in_to_the_console(client, site):
    out = io.StringIO()
    call_command("handoff_demo_setup", site=site.public_key, stdout=out)
    call_command("handoff_demo_setup", site=site.public_key, stdout=out)  # safe to rerun
    mei = get_user_model().objects.get(username="mei")
    assert user_is_agent(user=mei)
    team = Team.objects.get(site=site)
    assert list(team.members.all()) == [mei]
    assert HandoffSettings.objects.get(site=site).default_team == team
    assert CannedReply.objects.filter(site=site).count() == 6
    assert "login mei / csbot-demo-agent" in out.getvalue()
    assert client.login(username="mei", password="csbot-demo-agent")
    assert client.get("/console/").status_code == 200


def test_an_unknown_site_is_an_error():
    with pytest.raises(CommandError, match="no site"):
        call_command("handoff_demo_setup", site="site_nope")
