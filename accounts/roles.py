from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    """A person's role in an organisation; residents have none."""

    COORDINATOR = "coordinator", _("coordinator")
    COACH = "coach", _("energy coach")
    MUNICIPALITY_STAFF = "municipality_staff", _("municipality staff")
    PROVINCE_ANALYST = "province_analyst", _("province analyst")
