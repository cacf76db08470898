from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from apps.core import views as core_views

urlpatterns = [
    path("", core_views.demo_shop, name="demo-shop"),
    path("healthz", core_views.health, name="health"),
    path("favicon.ico", core_views.favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    # gettext() for the console's scripts, in the language of the page that loads them.
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("", include("apps.chat.urls")),
    path("", include("apps.knowledge.urls")),
    path("console/insights/", include("apps.analytics.urls")),
    path("console/", include("apps.handoff.urls")),
]
