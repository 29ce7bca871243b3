"""URLs of the example project."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("health", views.health),
    path("items", views.ItemsView.as_view()),
    path("me", views.me),
    path("drf/items", views.DrfItemsView.as_view()),
    path("drf/me", views.DrfMeView.as_view()),
]
