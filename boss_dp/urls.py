from django.contrib import admin
from django.urls import include, path, re_path

from contacts.api.envelope import api_not_found
from contacts.api.views import export_download

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("contacts.api.urls")),
    # Without it APPEND_SLASH answers `/api` with an HTML redirect (and a POST with an error).
    path("api", api_not_found),
    # Every name under media/exports/ reaches the view, which answers 404 in the envelope for
    # anything but an export's name ("..", "a/b", NUL): nothing else under media/ is served.
    re_path(r"^media/exports/(?P<filename>[\s\S]*)\Z", export_download, name="contact-export-download"),
]

handler400 = "contacts.api.envelope.bad_request"
handler403 = "contacts.api.envelope.permission_denied"
handler404 = "contacts.api.envelope.page_not_found"
handler500 = "contacts.api.envelope.server_error"
