from __future__ import annotations

from typing import Any

from allauth.account.admin import EmailAddressAdmin
from allauth.account.models import EmailAddress
from allauth.mfa.admin import AuthenticatorAdmin
from allauth.mfa.models import Authenticator
from allauth.usersessions.admin import UserSessionAdmin
from allauth.usersessions.models import UserSession
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from accounts import api_tokens
from accounts.models import ApiToken, Membership, Municipality, Organisation, User


def residents_only(prefix: str = "") -> Q:
    """Accounts of residents alone: a household, and no role or staff status besides."""
    return Q(**{f"{prefix}households__isnull": False}) & ~Q(
        Q(**{f"{prefix}memberships__isnull": False})
        | Q(**{f"{prefix}is_staff": True})
        | Q(**{f"{prefix}is_superuser": True})
    )


class WithoutResidents:
    """The administrator manages organisations and their people, not residents.

    DESIGN.md gives the administrator no casual access to dossiers: a resident's account,
    e-mail addresses, authenticators and sessions are their initiative's to handle, so
    the admin lists and opens only those of people with a role or staff status.
    """

    resident_prefix = ""

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)  # type: ignore[misc]
        hidden = queryset.filter(residents_only(self.resident_prefix)).values("pk")
        return queryset.exclude(pk__in=hidden)


@admin.register(User)
class UserAdmin(WithoutResidents, DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_active", "is_staff"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Personal details"), {"fields": ("first_name", "last_name", "phone")}),
        (
            _("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["municipalities"]
    inlines = [MembershipInline]


@admin.register(Municipality)
class MunicipalityAdmin(admin.ModelAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Keys are made by coordinators, municipality staff and province analysts, who see
    the key once; here they can only be looked at, renamed, given an end date or revoked."""

    list_display = ["name", "organisation", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("organisation", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "prefix", "organisation__name"]
    readonly_fields = [
        "organisation",
        "prefix",
        "key_hash",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    fields = [
        "organisation",
        "name",
        "prefix",
        "key_hash",
        "created_by",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A key made here would have to be shown to the administrator, who has no
        # business acting for an initiative.
        return False

    @admin.action(description=_("Revoke the selected API keys"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        for token in queryset:
            api_tokens.api_token_revoke(token=token)


# allauth's own admins, the same way: a resident's address, authenticator and sessions
# stay out of the administrator's lists.
admin.site.unregister([EmailAddress, Authenticator, UserSession])


@admin.register(EmailAddress)
class StaffEmailAddressAdmin(WithoutResidents, EmailAddressAdmin):
    resident_prefix = "user__"


@admin.register(Authenticator)
class StaffAuthenticatorAdmin(WithoutResidents, AuthenticatorAdmin):
    resident_prefix = "user__"


@admin.register(UserSession)
class StaffUserSessionAdmin(WithoutResidents, UserSessionAdmin):
    resident_prefix = "user__"
