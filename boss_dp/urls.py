from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("contacts.api.urls")),
]

handler400 = "contacts.api.envelope.bad_request"
handler403 = "contacts.api.envelope.permission_denied"
handler404 = "contacts.api.envelope.page_not_found"
handler500 = "contacts.api.envelope.server_error"
