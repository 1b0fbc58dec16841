from __future__ import annotations

import datetime as dt
from typing import ClassVar

from auditlog.registry import auditlog
from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from accounts.access import AccessQuerySet, Action, Policy
from accounts.roles import Role

cbs_municipality_code_validator = RegexValidator(
    r"^GM[0-9]{4}$", _("Enter a CBS municipality code such as GM0310.")
)
colour_validator = RegexValidator(
    r"^#[0-9a-fA-F]{6}$", _("Enter a colour as # followed by six hexadecimal digits.")
)


class EmailUserManager(UserManager["User"]):
    use_in_migrations = True

    def _create_user_object(self, email, password, **extra_fields):  # type: ignore[override]
        user = self.model(email=self.normalize_email(email), **extra_fields)
        user.set_password(password)
        return user

    def _create_user(self, email, password, **extra_fields):  # type: ignore[override]
        user = self._create_user_object(email, password, **extra_fields)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):  # type: ignore[override]
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):  # type: ignore[override]
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    """A person who logs in with an e-mail address; residents are users without a membership."""

    username = None  # type: ignore[assignment]
    email = models.EmailField(_("e-mail address"), unique=True)
    phone = models.CharField(_("phone number"), max_length=20, blank=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects = EmailUserManager()  # type: ignore[misc]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.email


class Municipality(models.Model):
    """A Dutch municipality by its CBS code: reference data kept by the administrator."""

    code = models.CharField(
        _("CBS code"), max_length=6, unique=True, validators=[cbs_municipality_code_validator]
    )
    name = models.CharField(_("name"), max_length=100)

    class Meta:
        verbose_name = _("municipality")
        verbose_name_plural = _("municipalities")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(code__regex=r"^GM[0-9]{4}$"), name="municipality_code_format"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Organisation(models.Model):
    class Kind(models.TextChoices):
        INITIATIVE = "initiative", _("energy initiative")
        MUNICIPALITY = "municipality", _("municipality")
        PROVINCE = "province", _("province")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=150)
    slug = models.SlugField(_("short name in web addresses"), max_length=60, unique=True)
    municipalities = models.ManyToManyField(
        Municipality,
        verbose_name=_("municipalities"),
        related_name="organisations",
        blank=True,
        help_text=_("The municipalities an initiative works in, or a government body governs."),
    )
    logo = models.ImageField(_("logo"), upload_to="branding/", blank=True)
    colour = models.CharField(
        _("main colour"), max_length=7, default="#1d5f8a", validators=[colour_validator]
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = AccessQuerySet.as_manager()
    access_policy = Policy(
        organisation="",
        roles={
            Action.VIEW: frozenset(Role),
            Action.CHANGE: frozenset({Role.COORDINATOR, Role.MUNICIPALITY_STAFF}),
        },
    )

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=["initiative", "municipality", "province"]),
                name="organisation_kind_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(colour__regex=r"^#[0-9a-fA-F]{6}$"),
                name="organisation_colour_format",
            ),
        ]

    def __str__(self) -> str:
        return self.name


# Which roles an organisation of each kind can hand out.
ROLES_BY_KIND: dict[str, frozenset[str]] = {
    Organisation.Kind.INITIATIVE: frozenset({Role.COORDINATOR, Role.COACH}),
    Organisation.Kind.MUNICIPALITY: frozenset({Role.MUNICIPALITY_STAFF}),
    Organisation.Kind.PROVINCE: frozenset({Role.PROVINCE_ANALYST}),
}


class Membership(models.Model):
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("user")
    )
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.CASCADE,
        related_name="memberships",
        verbose_name=_("organisation"),
    )
    role = models.CharField(_("role"), max_length=30, choices=Role.choices)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = AccessQuerySet.as_manager()
    access_policy = Policy(
        organisation="organisation",
        roles={
            Action.VIEW: frozenset({Role.COORDINATOR}),
            Action.CHANGE: frozenset({Role.COORDINATOR}),
        },
    )

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organisation", "role"], name="membership_unique_role"
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=[r.value for r in Role]), name="membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} – {self.get_role_display()} – {self.organisation}"

    def clean(self) -> None:
        if self.organisation_id and self.role not in ROLES_BY_KIND[self.organisation.kind]:
            raise ValidationError(
                {"role": _("This role does not exist in an organisation of this kind.")}
            )


class ApiToken(models.Model):
    """A key another system uses to reach the one API of its organisation's kind
    (accounts.api_tokens): an initiative's CRM API, or a municipality's or province's
    published figures; only its hash is kept.

    The key itself is shown once, when it is made (accounts.api_tokens). It acts for its
    organisation with what a coordinator may do there, and only on the CRM API.
    """

    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.CASCADE,
        related_name="api_tokens",
        verbose_name=_("organisation"),
        limit_choices_to={"kind": "initiative"},
    )
    name = models.CharField(
        _("name"),
        max_length=100,
        help_text=_("What the key is for, for example the sign-up form on the website."),
    )
    # The first characters of the key, for people to tell keys apart in a list or a
    # configuration file; too few to guess the rest from.
    prefix = models.CharField(_("start of the key"), max_length=16)
    # SHA-256 of the key. The key holds 256 random bits, so nobody can find it back by
    # trying keys against the hash; a slow password hash would cost every API call for
    # no gain.
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True)
    created_by = models.ForeignKey(
        User,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    objects = AccessQuerySet.as_manager()
    access_policy = Policy(
        organisation="organisation",
        roles={
            Action.VIEW: frozenset({Role.COORDINATOR}),
            Action.CHANGE: frozenset({Role.COORDINATOR}),
        },
    )

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(key_hash__regex=r"^[0-9a-f]{64}$"),
                name="apitoken_key_hash_format",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_usable(self, now: dt.datetime) -> bool:
        """Not revoked and not expired at `now`; the organisation is checked by the caller."""
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


# Who gave whom which role, and when: changes to organisations and memberships are audited.
auditlog.register(Organisation, m2m_fields={"municipalities"})
auditlog.register(Membership)
# Who made or revoked which key. The hash stays out of the log; the time of last use
# changes by the minute and is written without the model's save().
auditlog.register(ApiToken, exclude_fields=["key_hash", "last_used_at"])
