"""The advice report, end to end, against WeasyPrint rendering the finished HTML alone.

bench/run.py runs `measure()` inside its throwaway demo database (through `manage.py
shell`). One run of the full path is what a coach's click costs: fixing the figures of
the day (the dossier, the calculation, the snapshot), the task rendering the template,
WeasyPrint, and storing the PDF. The floor is WeasyPrint alone on the HTML that run
produced. Runs alternate between the two, so a machine that slows down slows both.
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

# Advice as a coach typically gives it: six measures with a priority, most with a note.
ADVICE = {
    "draught_proofing": ("high", "Kierdichting bij de voordeur, de brievenbus en de ramen."),
    "floor_insulation": ("high", "De kruipruimte is droog en via het luik goed bereikbaar."),
    "cavity_wall_insulation": ("high", "Laat vooraf een spouwinspectie doen."),
    "roof_insulation": ("medium", "Het dak kan aan de binnenkant geïsoleerd worden."),
    "hr_glass": ("medium", "Begin met de woonkamer; de slaapkamers kunnen later."),
    "hybrid_heat_pump": ("low", "Pas na de isolatie: dan volstaat een kleiner toestel."),
}
SUMMARY = (
    "Dank voor de fijne ontvangst. Uw woning is goed onderhouden, maar verliest veel warmte "
    "via de vloer en de spouwmuur. Begin met kierdichting: dat kost weinig en u merkt het "
    "meteen. Daarna loont vloer- en spouwmuurisolatie het meest.\n\n"
    "Heeft u vragen? Stuur mij gerust een bericht via het woningdossier."
)


def _prepare(dossier_id: int) -> Any:
    from dossier.models import BuildingComponent, Dossier, DossierMeasure

    dossier = Dossier.objects.select_related("household__assigned_coach").get(pk=dossier_id)
    Dossier.objects.filter(pk=dossier_id).update(
        dwelling_type="corner", build_year=1965, floor_area_m2=120, gas_m3_per_year=1700
    )
    BuildingComponent.objects.filter(dossier=dossier).update(insulation="none")
    for code, (priority, note) in ADVICE.items():
        DossierMeasure.objects.filter(dossier=dossier, measure_type__code=code).update(
            advice_priority=priority, advice_note=note
        )
    return dossier


def measure(dossier_id: int, runs: int = 5) -> dict[str, Any]:
    from dossier import advice_reports, reports
    from dossier.models import Delivery

    dossier = _prepare(dossier_id)
    coach = dossier.household.assigned_coach
    full: list[float] = []
    floor: list[float] = []
    pages = 0
    html = ""

    def make_report() -> tuple[float, str]:
        started = time.perf_counter()
        # With no broker the task runs in-process when the request's transaction commits.
        report = advice_reports.report_request(
            dossier=dossier, actor=coach, summary=SUMMARY, delivery=Delivery.PRINT
        )
        spent = time.perf_counter() - started
        report.refresh_from_db()
        if report.status != "done":
            raise RuntimeError(f"the report was not made: {report.status} {report.error}")
        return spent, reports.advice_report_html(
            figures=report.figures,
            organisation=dossier.household.initiative,
            number=report.number,
            summary=report.summary,
        )

    def weasyprint_alone(html: str) -> tuple[float, int]:
        started = time.perf_counter()
        _, pages = reports.render_pdf_pages(html, stylesheet=reports.stylesheet("css/report.css"))
        return time.perf_counter() - started, pages

    # The first round warms up both paths (template compilation, fonts); it is not counted.
    # The order alternates, so neither path always runs in the other's wake (caches, GC).
    for round_ in range(runs + 1):
        if round_ % 2:
            spent, html = make_report()
            alone, pages = weasyprint_alone(html)
        else:
            alone, pages = weasyprint_alone(html) if html else (0.0, 0)
            spent, html = make_report()
            if not round_:
                continue
        full.append(spent)
        floor.append(alone)
    full_s = statistics.median(full)
    floor_s = statistics.median(floor)
    return {
        "pages": pages,
        "runs": runs,
        "report_s": round(full_s, 3),
        "weasyprint_s": round(floor_s, 3),
        "ratio": round(full_s / floor_s, 3),
    }


def main(dossier_id: int, runs: int = 5) -> None:
    print("BENCH-REPORT", json.dumps(measure(dossier_id, runs)))
