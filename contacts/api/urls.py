from django.urls import re_path
from rest_framework.routers import SimpleRouter

from . import views
from .envelope import api_not_found
from .imports import ContactImportView
from .schema_views import DocsView, SchemaView


class OptionalSlashRouter(SimpleRouter):
    """Routes that answer with or without the trailing slash, without a redirect."""

    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"


router = OptionalSlashRouter()
router.register("contacts", views.ContactViewSet, basename="contact")
router.register("contacts/exports", views.ExportJobViewSet, basename="export-job")

urlpatterns = [
    re_path(r"^auth/token/?$", views.LoginView.as_view(), name="token"),
    re_path(r"^auth/token/refresh/?$", views.RefreshView.as_view(), name="token-refresh"),
    re_path(r"^auth/logout/?$", views.LogoutView.as_view(), name="logout"),
    re_path(r"^health/?$", views.HealthView.as_view(), name="health"),
    re_path(r"^schema/?$", SchemaView.as_view(), name="api-schema"),
    re_path(r"^docs/?$", DocsView.as_view(url_name="api-schema"), name="api-docs"),
    re_path(r"^contacts/import/?$", ContactImportView.as_view(), name="contact-import"),
    *router.urls,
    re_path(r"", api_not_found),
]
