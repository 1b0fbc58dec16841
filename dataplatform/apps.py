from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DataplatformConfig(AppConfig):
    name = "dataplatform"
    verbose_name = _("Data platform")
