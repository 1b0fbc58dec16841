"""Forms of the CRM pages. They check shape only; the services decide what is allowed."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.html import escape
from django.utils.translation import gettext_lazy as _

from crm.models import VISIT_MINUTES_MAX, VISIT_MINUTES_MIN, CaseStatus, EventKind
from crm.services import (
    MANUAL_EVENT_KINDS,
    NEW_OCCUPANTS,
    SAME_HOUSEHOLD,
    SECOND_HOUSEHOLD,
    TEXT_MAX,
)
from dossier.models.measure import DoneBy

if TYPE_CHECKING:
    from collections.abc import Iterable

    from accounts.models import Municipality, User
    from dossier.models import DossierMeasure

ALL_STATUSES = "all"
NO_COACH = "none"
AGES = (7, 14, 30)


class _OwnIds(forms.Form):
    """A form whose field ids carry its own prefix: the case page holds several forms
    with a "text" field, and ids must be unique on a page (WCAG 4.1.1, labels)."""

    id_prefix = "id"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", f"{self.id_prefix}_%s")
        super().__init__(*args, **kwargs)


def _person_choices(people: Iterable[User]) -> list[tuple[str, str]]:
    return [(str(person.pk), str(person)) for person in people]


class QueueFilterForm(forms.Form):
    """The queue's filters, read from the query string; an invalid value is ignored."""

    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=100,
        help_text=_("Name, street, postcode or e-mail address."),
    )
    status = forms.ChoiceField(label=_("Status"), required=False)
    municipality = forms.ChoiceField(label=_("Municipality"), required=False)
    area = forms.RegexField(
        label=_("Postcode area"),
        regex=r"^[1-9][0-9]{3}$",
        required=False,
        max_length=4,
        help_text=_("The four digits, for example 3731."),
        error_messages={"invalid": _("Enter the four digits of a postcode, for example 3731.")},
    )
    coach = forms.ChoiceField(label=_("Energy coach"), required=False)
    age = forms.TypedChoiceField(label=_("Waiting"), required=False, coerce=int, empty_value=None)

    def __init__(
        self,
        *args: Any,
        coaches: Iterable[User],
        municipalities: Iterable[Municipality],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        coaches = list(coaches)
        self.fields["status"].choices = [
            ("", _("All open cases")),
            *CaseStatus.choices,
            (ALL_STATUSES, _("All cases, also closed and withdrawn")),
        ]
        self.fields["municipality"].choices = [
            ("", _("All municipalities")),
            *((m.code, m.name) for m in municipalities),
        ]
        self.fields["coach"].choices = [
            ("", _("All energy coaches")),
            (NO_COACH, _("No energy coach yet")),
            *_person_choices(coaches),
        ]
        if not coaches:
            # A coach's queue holds only their own cases: nothing to choose between.
            del self.fields["coach"]
        self.fields["age"].choices = [
            ("", _("Any time")),
            *((str(days), _("More than %(days)s days") % {"days": days}) for days in AGES),
        ]
        self.fields["area"].widget.attrs.update({"inputmode": "numeric", "autocomplete": "off"})
        self.fields["q"].widget.input_type = "search"
        self.fields["q"].widget.attrs.update({"autocomplete": "off"})


class BulkAssignForm(_OwnIds):
    """The coach for the cases ticked in the queue (the view reads the "cases" ids itself)."""

    id_prefix = "bulk"

    coach = forms.ChoiceField(label=_("Assign the selected cases to"))
    # The queue's query string, to return to the same filtered page afterwards.
    query = forms.CharField(required=False, max_length=500, widget=forms.HiddenInput)

    def __init__(self, *args: Any, coaches: Iterable[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["coach"].choices = [
            ("", _("Choose an energy coach")),
            *_person_choices(coaches),
        ]


class AssignForm(_OwnIds):
    id_prefix = "assign"

    coach = forms.TypedChoiceField(
        label=_("Energy coach"),
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose an energy coach.")},
    )

    def __init__(self, *args: Any, coaches: Iterable[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["coach"].choices = _person_choices(coaches)


class TransitionForm(_OwnIds):
    id_prefix = "step"

    action = forms.CharField(max_length=30)
    text = forms.CharField(
        label=_("Explanation"),
        required=False,
        max_length=TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Appears in the timeline with the step."),
    )


class NoteForm(_OwnIds):
    id_prefix = "note"

    kind = forms.ChoiceField(
        label=_("What do you record?"),
        choices=[(k.value, k.label) for k in EventKind if k in MANUAL_EVENT_KINDS],
        initial=EventKind.NOTE,
        widget=forms.RadioSelect,
    )
    text = forms.CharField(
        label=_("Text"), max_length=TEXT_MAX, widget=forms.Textarea(attrs={"rows": 4})
    )


class VisitPlanForm(_OwnIds):
    id_prefix = "visit"

    date = forms.DateField(
        label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    time = forms.TimeField(
        label=_("Start time"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    duration_minutes = forms.IntegerField(
        label=_("Duration in minutes"),
        initial=90,
        min_value=VISIT_MINUTES_MIN,
        max_value=VISIT_MINUTES_MAX,
    )


class TaskForm(_OwnIds):
    id_prefix = "task"

    title = forms.CharField(label=_("Task"), max_length=200)
    assignee = forms.TypedChoiceField(
        label=_("Assigned to"), coerce=int, required=False, empty_value=None
    )
    due_date = forms.DateField(
        label=_("Due date"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def __init__(
        self, *args: Any, staff: Iterable[User], today: dt.date | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [("", _("Nobody in particular")), *_person_choices(staff)]
        if today is not None:
            self.fields["due_date"].initial = today + dt.timedelta(days=7)


NOT_YET = "not_yet"


class FollowUpForm(forms.Form):
    """One question per measure: not yet, done yourself, or done by a company."""

    def __init__(self, *args: Any, measures: Iterable[DossierMeasure], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [(NOT_YET, _("Not yet")), *DoneBy.choices]
        self.measures = list(measures)
        for measure in self.measures:
            self.fields[f"measure_{measure.pk}"] = forms.ChoiceField(
                label=measure.measure_type.name,
                # Forms render help_text unescaped (it is meant for markup written in
                # code); this one is data an administrator typed, so it is escaped here.
                help_text=escape(measure.measure_type.description),
                choices=choices,
                initial=NOT_YET,
                widget=forms.RadioSelect,
                # A measure left out of the answer (an older page) is "not yet".
                required=False,
            )

    def taken(self) -> dict[int, str]:
        """The measures answered as done, with who did the work."""
        return {
            measure.pk: self.cleaned_data[f"measure_{measure.pk}"]
            for measure in self.measures
            if self.cleaned_data[f"measure_{measure.pk}"] not in ("", NOT_YET)
        }


class CoachProfileForm(forms.Form):
    areas = forms.CharField(
        label=_("Postcode areas"),
        required=False,
        max_length=500,
        help_text=_("The four digits of each postcode area, separated by commas or spaces."),
    )
    max_visits_per_week = forms.IntegerField(
        label=_("Maximum visits per week"), min_value=1, max_value=50, initial=3
    )
    is_active = forms.BooleanField(
        label=_("Takes new cases"),
        required=False,
        initial=True,
        help_text=_("Untick to pause this coach: they keep their cases but get no new ones."),
    )


class KnownAddressForm(_OwnIds):
    """Who signed up at an address where a household of the initiative already lives."""

    id_prefix = "known"

    choice = forms.ChoiceField(
        label=_("Who signed up?"),
        choices=[
            (
                SAME_HOUSEHOLD,
                _(
                    "Someone of the household living there (e.g. a partner): the sign-up "
                    "joins that household and its case."
                ),
            ),
            (
                NEW_OCCUPANTS,
                _(
                    "New occupants: the previous household has moved out. Its case is "
                    "withdrawn and it is removed after the retention period."
                ),
            ),
            (
                SECOND_HOUSEHOLD,
                _(
                    "A second household at this address (e.g. a room or a granny flat): "
                    "both are helped, each with its own dossier."
                ),
            ),
        ],
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose who signed up.")},
    )
    carry_over = forms.BooleanField(
        label=_("Carry over the home's characteristics from the previous dossier"),
        required=False,
        initial=True,
        help_text=_(
            "Only for new occupants. Build year, insulation, heating and the like, marked "
            "“previous occupants”; never personal details, energy use, notes or photos."
        ),
    )
