"""The store counter pages under /store/."""

from django.urls import path

from stores import invoice_views, views

app_name = "stores"

urlpatterns = [
    path("", views.store_home, name="home"),
    path("find/", views.form_find, name="form-find"),
    path("forms/new/", views.form_issue, name="form-issue"),
    path("forms/estimate/", views.form_estimate_json, name="form-estimate"),
    path("mrz/", views.mrz_read_json, name="mrz-read"),
    path("forms/<str:number>/", views.form_detail, name="form-detail"),
    path("forms/<str:number>/pdf/", views.form_print, name="form-pdf"),
    path("forms/<str:number>/void/", views.form_void, name="form-void"),
    path("invoices/", invoice_views.invoice_list, name="invoices"),
    path("invoices/<str:number>/", invoice_views.invoice_detail, name="invoice"),
]
