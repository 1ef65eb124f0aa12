"""Agency API routes under /api/v1/."""

from django.urls import path

from agencies.api.views import (
    RefundCheckView,
    RefundDetailView,
    RefundHandoverView,
    RefundListCreateView,
    RefundRetryView,
    SettlementView,
)

urlpatterns = [
    path("refunds/", RefundListCreateView.as_view(), name="api-refunds"),
    path("refunds/check/", RefundCheckView.as_view(), name="api-refund-check"),
    path("refunds/<int:pk>/", RefundDetailView.as_view(), name="api-refund-detail"),
    path("refunds/<int:pk>/retry/", RefundRetryView.as_view(), name="api-refund-retry"),
    path("refunds/<int:pk>/handover/", RefundHandoverView.as_view(), name="api-refund-handover"),
    path(
        "settlements/<str:period>/",
        SettlementView.as_view(),
        name="api-settlement",
    ),
]
