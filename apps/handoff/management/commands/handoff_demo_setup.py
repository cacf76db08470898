"""Create (or refresh) the demo agent, their team and canned replies for a site; safe to rerun."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import BaseCommand, CommandError
from django.db import transaction

from apps.handoff.models import CannedReply, HandoffSettings, Team
from apps.handoff.selectors import AGENTS_GROUP
from apps.sites.models import Language
from apps.sites.selectors import site_get_by_key

DEMO_AGENT = ("mei", "csbot-demo-agent")
CANNED = [
    ("hi", Language.ENGLISH, "Greeting", "Hi {visitor}, this is {agent}. How can I help?"),
    ("hi", Language.CHINESE, "问候", "您好 {visitor}，我是客服 {agent}，请问有什么可以帮您？"),
    ("wait", Language.ENGLISH, "One moment", "Let me check that for you. One moment, please."),
    ("wait", Language.CHINESE, "请稍等", "请稍等，我帮您查一下。"),
    ("bye", Language.ENGLISH, "Anything else", "Is there anything else I can help you with?"),
    ("bye", Language.CHINESE, "还有其他问题吗", "请问还有其他可以帮您的吗？"),
]


class Command(BaseCommand):
    help = "Create the demo agent 'mei' (Agents group, Support team) and canned replies for a site."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--site", required=True, help="the site's public key")

    @transaction.atomic
    def handle(self, *args: object, site: str, **options: object) -> None:
        found = site_get_by_key(public_key=site)
        if found is None:
            raise CommandError(f"no site has the key {site!r}")
        group, _ = Group.objects.get_or_create(name=AGENTS_GROUP)
        team, _ = Team.objects.get_or_create(site=found, name="Support")
        HandoffSettings.objects.get_or_create(site=found, defaults={"default_team": team})
        username, password = DEMO_AGENT
        agent, _ = get_user_model().objects.get_or_create(
            username=username, defaults={"first_name": "Mei", "email": "mei@example.com"}
        )
        agent.is_staff = True
        agent.is_active = True
        agent.set_password(password)
        agent.save()
        agent.groups.add(group)
        team.members.add(agent)
        for shortcut, language, title, text in CANNED:
            CannedReply.objects.update_or_create(
                site=found,
                shortcut=shortcut,
                language=language,
                defaults={"title": title, "text": text},
            )
        self.stdout.write(
            f"  Console:    /console/   login {username} / {password}  (team {team.name})"
        )
