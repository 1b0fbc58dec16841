from __future__ import annotations

import os

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from accounts import views as account_views
from config import errors, health

# The admin login goes through allauth, so its rate limits (and MFA) apply there too.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]
admin.site.site_header = "Woningdossier beheer"

# A body too large: 413 with a message. PostgreSQL or Redis down: 503, not 500.
handler400 = errors.bad_request
handler500 = errors.server_error

urlpatterns = [
    path("", account_views.home, name="home"),
    # Both answered by config.middleware.ProbeMiddleware, before session and login.
    path("health/", account_views.health, name="health"),
    path("ready/", health.ready, name="ready"),
    path("accounts/", include("allauth.urls")),
    path("organisaties/", include("accounts.urls")),
    path("", include("dossier.urls")),
    path("", include("crm.urls")),
    path("", include("nip.urls")),
    path("", include("dataplatform.urls")),
    path("aanmelden/", include("crm.signup_urls")),
    path("privacy/", include("privacy.urls")),
    path("api/v1/", include("dossier.api_urls")),
    path("api/v1/", include("crm.api_urls")),
    path("api/v1/nip/", include("nip.api_urls")),
    path("api/v1/aggregates/", include("dataplatform.api_urls")),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("beheer/", admin.site.urls),
]

# Only bench/run.py's throwaway server sets this: the bench's floor views (bench/views.py).
if os.environ.get("BENCH_VIEWS") == "1":
    from bench import views as bench_views

    urlpatterns.append(
        path(
            "bench/dossiers/<int:pk>/bezoek/",
            bench_views.dossier_visit_floor,
            name="bench-dossier-floor",
        )
    )
    urlpatterns.append(path("bench/floor/", bench_views.session_floor, name="bench-session-floor"))
