"""The public sign-up form of an initiative: no login, embeddable in the initiative's site.

The form may be shown in an iframe on the initiative's own website (the snippet is in
the README), so these pages alone allow framing, and only by the websites named in the
initiative's sign-up settings. They hold no personal data of anyone
but the visitor, and the form is protected by its CSRF token, a honeypot field and a
rate limit per sender.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_GET, require_http_methods

from crm import signup as signups
from crm.models import HeardVia, embedding_origins
from dossier import addresses
from dossier.models import YesNoUnknown


def _framed_by(response: HttpResponse, page: signups.SignupPage) -> HttpResponse:
    """The site-wide policy, except that the initiative's own websites may frame the page.

    The sites are in the initiative's sign-up settings; without any, no site may. This is
    the attribute `csp_override` sets, chosen per initiative instead of per view.
    """
    sites = embedding_origins(page.settings.embedding_sites)
    response._csp_config = {**settings.SECURE_CSP, "frame-ancestors": sites or [CSP.NONE]}
    return response


class SignupForm(forms.Form):
    name = forms.CharField(label=_("Your name"), max_length=150)
    postcode = forms.CharField(
        label=_("Postcode"), max_length=8, help_text=_("For example 3731 AB.")
    )
    house_number = forms.IntegerField(
        label=_("House number"), min_value=1, max_value=addresses.HOUSE_NUMBER_MAX
    )
    house_letter = forms.CharField(label=_("House letter"), max_length=1, required=False)
    addition = forms.CharField(label=_("Addition"), max_length=6, required=False)
    street = forms.CharField(label=_("Street"), max_length=120, required=False)
    city = forms.CharField(label=_("Town"), max_length=80, required=False)
    contact_email = forms.EmailField(
        label=_("E-mail address"),
        required=False,
        help_text=_("We send a confirmation here. No e-mail address? Then leave a phone number."),
    )
    contact_phone = forms.CharField(label=_("Phone number"), max_length=20, required=False)
    wants_help_with = forms.CharField(
        label=_("What would you like help with?"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("For example: a cold house, high energy bills, insulation or solar panels."),
    )
    heard_via = forms.ChoiceField(
        label=_("How did you hear of us?"),
        choices=[("", _("Choose…")), *HeardVia.choices],
        required=False,
    )
    is_member = forms.ChoiceField(
        label=_("Are you a member of the initiative?"),
        choices=YesNoUnknown.choices,
        widget=forms.RadioSelect,
        required=False,
    )
    accept_privacy = forms.BooleanField(
        label=_("I have read the privacy statement and agree"),
        error_messages={"required": _("Agree to the privacy statement to sign up.")},
    )
    # Left empty by people; filled in by form-filling robots, which then get a polite
    # thank-you page and store nothing.
    website = forms.CharField(required=False, label=_("Leave this field empty"))

    def __init__(self, *args: Any, asks_membership: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not asks_membership:
            del self.fields["is_member"]
        self.fields["website"].widget.attrs.update({"tabindex": "-1", "autocomplete": "off"})
        self.fields["postcode"].widget.attrs.update({"autocomplete": "postal-code"})
        self.fields["name"].widget.attrs.update({"autocomplete": "name"})
        self.fields["contact_email"].widget.attrs.update({"autocomplete": "email"})
        self.fields["contact_phone"].widget.attrs.update({"autocomplete": "tel", "type": "tel"})

    def clean_postcode(self) -> str:
        value = addresses.normalise_postcode(self.cleaned_data["postcode"])
        addresses.validate_postcode(value)
        return value

    def clean_house_letter(self) -> str:
        value = self.cleaned_data["house_letter"].strip().upper()
        addresses.validate_house_letter(value)
        return value

    def clean_addition(self) -> str:
        value = addresses.normalise_addition(self.cleaned_data["addition"])
        addresses.validate_addition(value)
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("contact_email") and not data.get("contact_phone", "").strip():
            raise ValidationError(
                _("Leave an e-mail address or a phone number, so that we can reach you."),
                code="no_contact",
            )
        return data


def _page(slug: str) -> signups.SignupPage:
    page = signups.signup_page(slug=slug)
    if page is None:
        raise Http404
    return page


def _client_ip(request: HttpRequest) -> str:
    # REMOTE_ADDR only: a header such as X-Forwarded-For is whatever the sender says.
    return request.META.get("REMOTE_ADDR", "")


@require_http_methods(["GET", "POST"])
@never_cache
@xframe_options_exempt
def signup(request: HttpRequest, slug: str) -> HttpResponse:
    page = _page(slug)
    is_open = page.settings.is_open and page.statement is not None
    form = SignupForm(
        request.POST if request.method == "POST" and is_open else None,
        asks_membership=page.settings.asks_membership,
    )
    status = 200
    if request.method == "POST" and is_open:
        if signups.rate_limited(client_ip=_client_ip(request)):
            form.add_error(
                None, _("Too many sign-ups from this connection. Please try again in an hour.")
            )
            status = 429
        elif form.is_valid():
            data = form.cleaned_data
            if not data.pop("website"):
                data.pop("accept_privacy")
                data["is_member"] = data.get("is_member", "")
                signups.signup_submit(page=page, **data)
            return redirect("signup:thanks", slug=slug)
    response = render(
        request,
        "crm/signup_form.html",
        {"page": page, "form": form, "is_open": is_open},
        status=status,
    )
    return _framed_by(response, page)


@require_GET
@xframe_options_exempt
def signup_thanks(request: HttpRequest, slug: str) -> HttpResponse:
    page = _page(slug)
    return _framed_by(render(request, "crm/signup_thanks.html", {"page": page}), page)


@require_GET
@xframe_options_exempt
def privacy_statement(request: HttpRequest, slug: str, version: str) -> HttpResponse:
    page = _page(slug)
    statement = page.initiative.privacy_statements.filter(version=version).first()
    if statement is None:
        raise Http404
    response = render(request, "crm/signup_privacy.html", {"page": page, "statement": statement})
    return _framed_by(response, page)
