from django.urls import path

from customs.api import views

urlpatterns = [
    path(
        "customs/verifications/",
        views.VerificationsView.as_view(),
        name="api-customs-verifications",
    ),
    path(
        "customs/presentations/",
        views.PresentationsView.as_view(),
        name="api-customs-presentations",
    ),
    path("customs/forms/<str:code>/", views.FormCustomsView.as_view(), name="api-customs-form"),
    path(
        "customs/inspections/", views.InspectionQueueView.as_view(), name="api-customs-inspections"
    ),
    path(
        "customs/mailbox-batches/",
        views.MailboxBatchesView.as_view(),
        name="api-customs-batches",
    ),
    path(
        "customs/mailbox-batches/<int:batch_id>/",
        views.MailboxBatchView.as_view(),
        name="api-customs-batch",
    ),
    path(
        "customs/mailbox-batches/<int:batch_id>/scan/",
        views.MailboxScanView.as_view(),
        name="api-customs-batch-scan",
    ),
    path(
        "customs/mailbox-batches/<int:batch_id>/close/",
        views.MailboxCloseView.as_view(),
        name="api-customs-batch-close",
    ),
    path(
        "customs/mailbox-batches/<int:batch_id>/export/",
        views.MailboxExportView.as_view(),
        name="api-customs-batch-export",
    ),
]
