"""The Buy & Refund prepayment pages in the store counter's URL space (/store/...)."""

from django.urls import path

from buyrefund import views as store_views

app_name = "store_prepayment"

urlpatterns = [
    path(
        "forms/<str:number>/prepayment/",
        store_views.prepayment_page,
        name="prepayment",
    ),
    path(
        "forms/<str:number>/prepayment/return/",
        store_views.prepayment_return_page,
        name="prepayment-return",
    ),
    path(
        "forms/<str:number>/prepayment/handover/",
        store_views.prepayment_handover_page,
        name="prepayment-handover",
    ),
]
