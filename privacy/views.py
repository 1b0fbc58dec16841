"""The processing register (AVG art. 30) as a download, drafted from privacy.register.

The register describes what the product stores, not anyone's data: every field with its
data class, processing activity and retention. It is the same for every organisation;
the controllers (initiatives and municipalities) and the administrator download it to
complete their own register.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, StreamingHttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from accounts import access, exports
from accounts.roles import Role
from privacy.register import register_rows

# Who answers for processing in their organisation.
REGISTER_ROLES = (Role.COORDINATOR, Role.MUNICIPALITY_STAFF)


@require_GET
@login_required
def register_csv(request: HttpRequest) -> StreamingHttpResponse:
    if not (request.user.is_superuser or access.has_role(request.user, *REGISTER_ROLES)):
        raise PermissionDenied
    header = [
        _("Table"),
        _("Stored in"),
        _("Field"),
        _("Description"),
        _("Data class"),
        _("Processing activity"),
        _("Retention"),
    ]
    rows = (
        [
            row.model_name,
            row.model,
            row.field,
            row.field_name,
            row.data_class.label,
            row.activity.label,
            row.retention.label,
        ]
        for row in register_rows()
    )
    return exports.csv_response(header, rows, filename="verwerkingsregister.csv")
