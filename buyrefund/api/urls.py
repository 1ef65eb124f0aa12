"""Buy & Refund API routes under /api/v1/ (the paths are unchanged from agencies)."""

from django.urls import path

from buyrefund.api.views import PrepaymentHandoverView, PrepaymentReturnView, PrepaymentView

urlpatterns = [
    path("forms/<str:number>/prepayment/", PrepaymentView.as_view(), name="api-form-prepayment"),
    path(
        "forms/<str:number>/prepayment/return/",
        PrepaymentReturnView.as_view(),
        name="api-form-prepayment-return",
    ),
    path(
        "forms/<str:number>/prepayment/handover/",
        PrepaymentHandoverView.as_view(),
        name="api-form-prepayment-handover",
    ),
]
