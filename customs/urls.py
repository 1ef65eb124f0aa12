from django.urls import path

from customs import views

app_name = "customs"

urlpatterns = [
    path("", views.scan, name="scan"),
    path("forms/<str:number>/", views.form_detail, name="form"),
    path("today/", views.today, name="today"),
    path("inspections/", views.inspections, name="inspections"),
    path("mailbox/", views.mailbox, name="mailbox"),
    path("mailbox/<int:batch_id>/", views.batch, name="batch"),
    path("mailbox/<int:batch_id>/close/", views.batch_close, name="batch-close"),
    path("mailbox/<int:batch_id>/export.csv", views.batch_export, name="batch-export"),
]
