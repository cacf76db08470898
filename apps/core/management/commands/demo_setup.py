"""Create (or refresh) the demo shop's site and logins; safe to run again."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management import BaseCommand, call_command

from apps.core.views import DEMO_SITE_KEY
from apps.sites.models import Language, Site

DEMO_ADMIN = ("admin", "csbot-demo-admin")


class Command(BaseCommand):
    help = "Create the demo shop site, the demo admin, and load the demo knowledge base."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--host", default="127.0.0.1:8000", help="where the demo is served")

    def handle(self, *args: object, host: str, **options: object) -> None:
        port = host.rsplit(":", 1)[-1]
        # dict.fromkeys keeps the order and drops --host when it is one of the two already.
        origins = dict.fromkeys(
            (f"http://{host}", f"http://localhost:{port}", f"http://127.0.0.1:{port}")
        )
        site, _ = Site.objects.update_or_create(
            public_key=DEMO_SITE_KEY,
            defaults={
                "name": "Lumen & Co. (demo)",
                "allowed_origins": "\n".join(origins),
                "default_language": Language.CHINESE,
                "greeting": "你好！我是 Lumen & Co. 的智能客服，"
                "可以回答配送、退换货、支付、订单、账户和保修问题。",
                "greeting_other": "Hi! I'm the Lumen & Co. assistant. Ask me about shipping, "
                "returns, payment, orders, your account or warranty.",
            },
        )
        user_model = get_user_model()
        username, password = DEMO_ADMIN
        admin, _ = user_model.objects.get_or_create(
            username=username, defaults={"email": "admin@example.com"}
        )
        admin.is_staff = admin.is_superuser = True
        admin.set_password(password)
        admin.save()
        for extra in self.extra_steps():
            call_command(extra, site=site.public_key, stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS(f"Demo site ready: {site.name} ({site.public_key})"))
        self.stdout.write(f"  Demo shop:  http://{host}/")
        self.stdout.write(f"  Admin:      http://{host}/admin/   login {username} / {password}")

    def extra_steps(self) -> list[str]:
        """Demo steps other apps provide (the knowledge base, the demo agent), when installed."""
        from django.core.management import get_commands

        return [name for name in ("kb_demo_load", "handoff_demo_setup") if name in get_commands()]
