"""The agency portal at /agency/."""

from django.urls import path

from agencies import views
from buyrefund import dashboard_views

app_name = "agencies"

urlpatterns = [
    path("", views.counter, name="counter"),
    path("counter/<str:token>/", views.visit, name="visit"),
    path("counter/<str:token>/pay/", views.pay, name="pay"),
    path("refunds/", views.refunds, name="refunds"),
    path("refunds/<int:pk>/", views.refund_detail, name="refund"),
    path("refunds/<int:pk>/resend/", views.refund_resend, name="refund-resend"),
    path("refunds/<int:pk>/handover/", views.refund_handover_confirm, name="refund-handover"),
    path("refunds/<int:pk>/receipt.pdf", views.receipt, name="receipt"),
    path("settlement/", views.settlement, name="settlement"),
    path("guarantees/", dashboard_views.guarantees, name="guarantees"),
    path(
        "settlement/<str:period>.csv",
        views.settlement_download,
        {"fmt": "csv"},
        name="settlement-csv",
    ),
    path(
        "settlement/<str:period>.xlsx",
        views.settlement_download,
        {"fmt": "xlsx"},
        name="settlement-xlsx",
    ),
]
