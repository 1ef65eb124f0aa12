from django.urls import path
from django.views.generic import RedirectView

from authority import views

app_name = "authority"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="authority:statistics"), name="home"),
    path("statistics/", views.statistics, name="statistics"),
    path("registry/", views.registry, name="registry"),
    path("registry/<str:code>/", views.registry_store, name="registry-store"),
    path("ledger/", views.ledger, name="ledger"),
    path(
        "ledger/proofs/<str:kind>/<str:ident>/",
        views.ledger_proof_download,
        name="ledger-proof",
    ),
    path("risk/", views.risk, name="risk"),
    path("reads/", views.reads, name="reads"),
]
