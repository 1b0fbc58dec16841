from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Residents are signed up through an initiative's own form, and staff are
        # invited by a coordinator or the administrator: no open sign-up page.
        return False
