from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.exceptions import MethodNotAllowed
from rest_framework.permissions import BasePermission, DjangoModelPermissions

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView


def _method_offered(request: Request, view: APIView) -> None:
    # DRF checks permissions before it looks for the handler, so without this a user lacking a permission
    # would get 403 instead of 405 for a method the API does not offer.
    method = request.method.lower()
    if method not in view.http_method_names or not hasattr(view, method):
        raise MethodNotAllowed(request.method)


class ModelPermissions(DjangoModelPermissions):
    """Django's model permissions, with reading guarded by `view_<model>` too."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request: Request, view: APIView) -> bool:
        _method_offered(request, view)
        return super().has_permission(request, view)


class CanExportContacts(ModelPermissions):
    """Export reads every matching contact, so it needs `view_contact` as well as `export_contact`."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return super().has_permission(request, view) and request.user.has_perm("contacts.export_contact")


EXPORT_PERMISSIONS = ("contacts.view_contact", "contacts.export_contact")


class CanRunExportJobs(BasePermission):
    """An export job reads and makes what an export does: `view_contact` and `export_contact`, whatever
    the method."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        _method_offered(request, view)
        user = request.user
        return bool(user and user.is_authenticated and user.has_perms(EXPORT_PERMISSIONS))


IMPORT_PERMISSIONS = ("contacts.add_contact", "contacts.change_contact")


class CanImportContacts(BasePermission):
    """An import creates and changes contacts: `add_contact` and `change_contact`."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        _method_offered(request, view)
        user = request.user
        return bool(user and user.is_authenticated and user.has_perms(IMPORT_PERMISSIONS))
