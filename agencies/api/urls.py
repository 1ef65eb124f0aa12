"""Agency API routes under /api/v1/."""

from django.urls import path

from agencies.api.prepayment import PrepaymentReturnView, PrepaymentView
from agencies.api.views import (
    RefundCheckView,
    RefundDetailView,
    RefundListCreateView,
    RefundRetryView,
    SettlementView,
)

urlpatterns = [
    path("forms/<str:number>/prepayment/", PrepaymentView.as_view(), name="api-form-prepayment"),
    path(
        "forms/<str:number>/prepayment/return/",
        PrepaymentReturnView.as_view(),
        name="api-form-prepayment-return",
    ),
    path("refunds/", RefundListCreateView.as_view(), name="api-refunds"),
    path("refunds/check/", RefundCheckView.as_view(), name="api-refund-check"),
    path("refunds/<int:pk>/", RefundDetailView.as_view(), name="api-refund-detail"),
    path("refunds/<int:pk>/retry/", RefundRetryView.as_view(), name="api-refund-retry"),
    path(
        "settlements/<str:period>/",
        SettlementView.as_view(),
        name="api-settlement",
    ),
]
