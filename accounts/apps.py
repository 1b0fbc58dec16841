from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts and organisations")

    def ready(self) -> None:
        from allauth.mfa.signals import authenticator_added
        from django.contrib.auth.signals import user_logged_in
        from django.db.models.signals import post_save, pre_save

        from accounts import access, mfa, sessions
        from accounts.models import User

        access.register_rules()
        user_logged_in.connect(sessions.session_started, dispatch_uid="accounts-session-started")
        pre_save.connect(sessions.on_user_saving, sender=User, dispatch_uid="accounts-user-saving")
        post_save.connect(sessions.on_user_saved, sender=User, dispatch_uid="accounts-user-saved")
        authenticator_added.connect(mfa.set_up_now, dispatch_uid="accounts-mfa-set-up-now")
