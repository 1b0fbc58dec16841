"""The CRM API under /api/v1/: cases, households, visits and tasks."""

from __future__ import annotations

from django.urls import path

from crm import api

app_name = "crm-api"

urlpatterns = [
    path("cases/", api.CaseListApi.as_view(), name="case-list"),
    path("cases/open/", api.CaseOpenApi.as_view(), name="case-open"),
    path("cases/<int:pk>/", api.CaseDetailApi.as_view(), name="case-detail"),
    path("cases/<int:pk>/transition/", api.CaseTransitionApi.as_view(), name="case-transition"),
    path("cases/<int:pk>/assign/", api.CaseAssignApi.as_view(), name="case-assign"),
    path("cases/<int:pk>/visits/", api.VisitPlanApi.as_view(), name="visit-plan"),
    path("cases/<int:pk>/tasks/", api.TaskAddApi.as_view(), name="task-add"),
    path("households/", api.HouseholdListApi.as_view(), name="household-list"),
    path("households/<int:pk>/", api.HouseholdDetailApi.as_view(), name="household-detail"),
    path("visits/", api.VisitListApi.as_view(), name="visit-list"),
    path("visits/<int:pk>/", api.VisitDetailApi.as_view(), name="visit-detail"),
    path("visits/<int:pk>/done/", api.VisitDoneApi.as_view(), name="visit-done"),
    path("visits/<int:pk>/cancel/", api.VisitCancelApi.as_view(), name="visit-cancel"),
    path("tasks/", api.TaskListApi.as_view(), name="task-list"),
    path("tasks/<int:pk>/done/", api.TaskDoneApi.as_view(), name="task-done"),
]
