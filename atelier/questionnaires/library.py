"""The library of standard questions: keys that never change, asked once per dossier.

Migration 0012 wrote these rows; ``seed_standard_questions`` adds any missing (a new database made
without migrations, the tests, the demo) and never rewords an existing one.
"""
from sqlalchemy import select

from ..extensions import db
from .models import StandardQuestion

STANDARD_QUESTIONS = [
    {"key": "headcount_fte", "type": "integer", "label": "Effectif salarié en équivalents temps plein (ETP)",
     "help": "Au dernier exercice clos, arrondi à l'unité.", "bounds": {"min": 0, "max": 1000000}},
    {"key": "turnover_last_year", "type": "amount", "label": "Chiffre d'affaires du dernier exercice clos",
     "help": "Hors taxes, en euros.", "bounds": {}},
    {"key": "jobs_created_3y", "type": "integer", "label": "Emplois créés dans les trois ans",
     "help": "En équivalents temps plein, grâce au projet.", "bounds": {"min": 0, "max": 100000}},
    {"key": "jobs_maintained", "type": "integer", "label": "Emplois maintenus",
     "help": "En équivalents temps plein, que le projet permet de conserver.",
     "bounds": {"min": 0, "max": 1000000}},
    {"key": "company_creation_date", "type": "date", "label": "Date de création de l'entreprise",
     "help": "Telle qu'elle figure sur l'extrait Kbis.", "bounds": {}},
    {"key": "own_contribution", "type": "amount", "label": "Apport personnel du ou des fondateurs",
     "help": "Somme apportée au projet sur leurs fonds propres, en euros.", "bounds": {}},
]


def seed_standard_questions() -> None:
    """Add the standard questions the database lacks (flushes)."""
    present = set(db.session.scalars(select(StandardQuestion.key)))
    for position, item in enumerate(STANDARD_QUESTIONS, start=1):
        if item["key"] not in present:
            db.session.add(StandardQuestion(position=position, **item))
    db.session.flush()


def standard_questions() -> dict[str, StandardQuestion]:
    query = select(StandardQuestion).order_by(StandardQuestion.position, StandardQuestion.key)
    return {question.key: question for question in db.session.scalars(query)}
