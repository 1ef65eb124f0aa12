"""URL map: API v1, schema and docs, staff pages, kiosk, admin."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from core.auth import StaffLoginView, otp_enroll, otp_verify
from core.views import api_not_found, home

api_v1 = [
    path("", include("core.api.urls")),
    path("", include("stores.api.urls")),
    path("", include("customs.api.urls")),
    path("", include("agencies.api.urls")),
    path("", include("buyrefund.api.urls")),
    path("", include("kiosk.api.urls")),
    path("", include("authority.api.urls")),
    path("", include("travelers.api.urls")),
]

urlpatterns = [
    path("", home, name="home"),
    # Browsers ask for /favicon.ico on pages without an icon link (admin, API docs).
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("accounts/login/", StaffLoginView.as_view(), name="login"),
    path("accounts/otp/", otp_enroll, name="otp-enroll"),
    path("accounts/otp/verify/", otp_verify, name="otp-verify"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("store/", include("stores.urls")),
    path("store/", include("buyrefund.urls")),
    path("customs/", include("customs.urls")),
    path("agency/", include("agencies.urls")),
    path("kiosk/", include("kiosk.urls")),
    path("authority/", include("authority.urls")),
    path("t/", include("travelers.urls")),
    path("admin/", admin.site.urls),
    # Last: any other address under /api/ answers a JSON 404 (Django's debug page would not).
    re_path(r"^api/", api_not_found),
]

handler400 = "core.views.bad_request"
handler404 = "core.views.page_not_found"
handler500 = "core.views.server_error"
