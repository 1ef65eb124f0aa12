from django.urls import path

from travelers import views

app_name = "travelers"

urlpatterns = [
    path("<str:token>/", views.phone_page, name="page"),
    path("<str:token>/contact/", views.contact_set, name="contact"),
    path("<str:token>/payout/", views.payout_choose, name="payout"),
    path("<str:token>/unsubscribe/", views.unsubscribe, name="unsubscribe"),
]
