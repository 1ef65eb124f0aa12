from django.urls import path, re_path

from authority.api.views import ConsistencyView, HeadsView, ProofView, RiskView, StatisticsView

urlpatterns = [
    path("authority/statistics/", StatisticsView.as_view(), name="api-authority-statistics"),
    path("authority/risk/", RiskView.as_view(), name="api-authority-risk"),
    re_path(
        r"^ledger/proofs/(?P<kind>forms|invoices|refunds)/(?P<ident>[0-9]{1,20})/$",
        ProofView.as_view(),
        name="api-ledger-proof",
    ),
    path("ledger/consistency/", ConsistencyView.as_view(), name="api-ledger-consistency"),
    path("ledger/heads/", HeadsView.as_view(), name="api-ledger-heads"),
]
