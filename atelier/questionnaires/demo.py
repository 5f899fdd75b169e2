"""The demo's questionnaires: what three real schemes would ask (the Région's investment aid lists the
investments, Bpifrance's innovation loan the turnover and the bank loans, the Initiative platform the
founder's own contribution), and plausible answers for every demo dossier, given through the same
operations as the pages."""
from decimal import Decimal

from werkzeug.datastructures import MultiDict

from .answers import layout, load_versions, save_answers
from .library import seed_standard_questions
from .operations import add_own_question, add_section, add_standard_question, publish

QUESTIONNAIRES = {
    "REGION-INVEST-PME": [
        ("Le programme d'investissement", [
            ("jobs_created_3y", True),
            {"key": "investments", "type": "group", "label": "Liste des investissements prévus",
             "help": "Un investissement par ligne, tel qu'il figure sur le devis.", "required": True,
             "columns": "*Libellé | text\n*Fournisseur | text\n*Montant HT | amount", "max_rows": "15"},
            {"key": "production_site", "type": "choice", "label": "Lieu des investissements",
             "required": True, "choices": "Site existant\nNouveau site en Bourgogne-Franche-Comté"},
        ]),
    ],
    "BPI-PRET-INNOVATION": [
        ("Votre entreprise", [("headcount_fte", True), ("turnover_last_year", True)]),
        ("Le financement du programme", [
            {"key": "bank_loans", "type": "yes_no",
             "label": "Des prêts bancaires financent-ils le programme ?", "required": True},
            {"key": "bank_loans_amount", "type": "amount", "label": "Montant total des prêts bancaires",
             "help": "Accordés ou demandés pour ce programme.", "required": True,
             "condition_key": "bank_loans", "condition_value": "oui"},
            {"key": "innovation_stage", "type": "choice", "label": "Stade du projet d'innovation",
             "required": True, "choices": "Faisabilité\nDéveloppement\nMise sur le marché"},
        ]),
    ],
    "INITIATIVE21-PRET-HONNEUR": [
        ("Le ou les fondateurs", [
            ("own_contribution", True), ("company_creation_date", False),
            {"key": "founders_count", "type": "integer", "label": "Nombre de fondateurs", "required": True,
             "min": "1", "max": "10"},
        ]),
    ],
}


def create_demo_questionnaires(admin, schemes: dict) -> None:
    """Publish version 1 of each demo questionnaire (``schemes``: by code)."""
    seed_standard_questions()
    for code, sections in QUESTIONNAIRES.items():
        scheme = schemes[code]
        for index, (title, questions) in enumerate(sections):
            add_section(admin, scheme, title=title)
            for question in questions:
                if isinstance(question, tuple):
                    add_standard_question(admin, scheme, section=index, key=question[0], required=question[1])
                else:
                    add_own_question(admin, scheme, section=index, **question)
        publish(admin, scheme)


def _demo_values(case) -> dict:
    cost = case.eligible_cost or Decimal("100000")
    company = case.company
    return {
        "headcount_fte": str(company.headcount),
        "turnover_last_year": f"{company.turnover or Decimal('500000'):.2f}",
        "jobs_created_3y": "3",
        "jobs_maintained": str(company.headcount),
        "company_creation_date": "2015-03-02",
        "own_contribution": f"{(cost * Decimal('0.15')).quantize(Decimal('1')):.0f}",
        "production_site": "site_existant",
        "bank_loans": "oui",
        "bank_loans_amount": f"{(cost * Decimal('0.4')).quantize(Decimal('1')):.0f}",
        "innovation_stage": "developpement",
        "founders_count": "2",
    }


def answer_demo_case(person, case) -> None:
    """Answer every question the dossier's schemes ask, as its applicant would on the page."""
    parts = layout(case, load_versions(case))
    if not parts:
        return
    values = _demo_values(case)
    cost = case.eligible_cost or Decimal("100000")
    form = MultiDict({"version": str(case.version)})
    for part in parts:
        for question in part.questions:
            name = part.name(question)
            if question["type"] == "group":
                rows = [(f"Équipement principal — {case.title}"[:200], "Fournisseur régional",
                         cost * Decimal("0.7")),
                        ("Installation et mise en service", "Installateur local", cost * Decimal("0.3"))]
                for number, (label, supplier, amount) in enumerate(rows):
                    form[f"{name}-{number}-libelle"] = label
                    form[f"{name}-{number}-fournisseur"] = supplier
                    form[f"{name}-{number}-montant_ht"] = f"{amount.quantize(Decimal('0.01')):.2f}"
            elif question["key"] in values:
                form[name] = values[question["key"]]
    save_answers(person, case, form)
