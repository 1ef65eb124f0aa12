from django.urls import path

from travelers.api import views

urlpatterns = [
    path(
        "travelers/payout-choice/",
        views.PayoutChoiceView.as_view(),
        name="api-travelers-payout-choice",
    ),
]
