from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NipConfig(AppConfig):
    name = "nip"
    verbose_name = _("National insulation programme")
