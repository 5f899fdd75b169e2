"""A dossier while its company writes it: the reference, the project, the funding lines asked and
the de minimis aid declared. Only members of the company, and only while the dossier is editable
(draft, or sent back as incomplete); each change writes its event.
"""
from datetime import date

from sqlalchemy import update

from ..auth.models import User
from ..common import ActionRefused, parse_amount, utcnow
from ..companies.models import MINIMIS_REGIMES, Company, MinimisAid
from ..extensions import db
from ..formatting import paris_today
from ..plans.operations import eligible_cost_for, refresh_eligible_cost
from ..questionnaires.operations import current_version_id
from ..schemes.models import Scheme
from ..schemes.rules import check_amount
from .access import is_member
from .events import check_editable, check_version, record_event, required_text
from .models import Case, FundingLine, ReferenceCounter


# --------------------------------------------------------------------------- references

def next_reference(year: int) -> str:
    """``AP-<year>-<5 digits>``, sequential per year; the counter row serialises concurrent drafts."""
    bump = (update(ReferenceCounter).where(ReferenceCounter.year == year)
            .values(last_number=ReferenceCounter.last_number + 1)
            .returning(ReferenceCounter.last_number))
    number = db.session.execute(bump).scalar()
    if number is None:
        dialect = db.session.get_bind().dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        db.session.execute(insert(ReferenceCounter).values(year=year, last_number=0)
                           .on_conflict_do_nothing(index_elements=["year"]))
        number = db.session.execute(bump).scalar()
    return f"AP-{year}-{number:05d}"


# --------------------------------------------------------------------------- drafts (applicant)



def create_case(actor: User, company: Company, *, title: str, description: str = "",
                starts_on: date | None = None, ends_on: date | None = None,
                eligible_cost=None) -> Case:
    if not is_member(actor, company.id):
        raise ActionRefused("Vous ne pouvez créer un dossier que pour une entreprise dont vous êtes membre.",
                            "company")
    case = Case(company=company, created_by=actor, state="draft",
                reference=next_reference(paris_today().year))
    _set_project(case, title=title, description=description, starts_on=starts_on, ends_on=ends_on,
                 eligible_cost=eligible_cost)
    db.session.add(case)
    db.session.flush()
    record_event(case, actor, "case", "create", to_state="draft")
    db.session.flush()
    return case


def _set_project(case: Case, *, title, description, starts_on, ends_on, eligible_cost) -> None:
    case.title = required_text(title, "title", "Le titre du projet est obligatoire.")[:200]
    case.description = (description or "").strip()
    if starts_on and ends_on and ends_on < starts_on:
        raise ActionRefused("La date de fin doit suivre la date de début.", "ends_on")
    case.starts_on, case.ends_on = starts_on, ends_on
    if case.financing_plan is not None:  # then computed from the plan's expenses, never typed
        refresh_eligible_cost(case)
        return
    case.eligible_cost = (None if eligible_cost in (None, "") else
                          parse_amount(eligible_cost, "eligible_cost", label="Le coût éligible"))


def update_project(actor: User, case: Case, *, expected_version=None, **fields) -> None:
    check_editable(actor, case)
    check_version(case, expected_version)
    _set_project(case, **fields)
    case.updated_at = utcnow()
    db.session.flush()


def add_line(actor: User, case: Case, *, scheme: Scheme, requested_amount) -> FundingLine:
    check_editable(actor, case)
    amount = parse_amount(requested_amount, "requested_amount", label="Le montant demandé")
    check_amount(scheme, amount, eligible_cost_for(case, scheme), "requested_amount",
                       "Le montant demandé")
    if any(line.scheme_id == scheme.id for line in case.lines):
        raise ActionRefused("Ce dispositif figure déjà dans le plan de financement.", "scheme")
    position = max((line.position for line in case.lines), default=0) + 1
    line = FundingLine(case=case, scheme=scheme, agency_id=scheme.agency_id,
                       requested_amount=amount, position=position, state="requested",
                       questionnaire_version_id=current_version_id(scheme.id))
    db.session.add(line)
    refresh_eligible_cost(case)
    case.updated_at = utcnow()
    db.session.flush()
    return line


def remove_line(actor: User, case: Case, line: FundingLine) -> None:
    check_editable(actor, case)
    if case.state != "draft":
        raise ActionRefused("Une fois le dossier déposé, une demande ne peut plus être supprimée : "
                            "retirez le dossier si vous renoncez.")
    case.lines.remove(line)
    refresh_eligible_cost(case)
    case.updated_at = utcnow()
    db.session.flush()


def declare_minimis_aid(actor: User, case: Case, *, granted_on: date, granting_body: str, amount,
                        regime: str) -> MinimisAid:
    check_editable(actor, case)
    if regime not in MINIMIS_REGIMES:
        raise ActionRefused("Choisissez un régime de minimis.", "regime")
    if granted_on > paris_today():
        raise ActionRefused("La date d'octroi ne peut pas être dans le futur.", "granted_on")
    aid = MinimisAid(siren=case.company.siren, case_id=case.id, source="declared",
                     granted_on=granted_on, regime=regime,
                     granting_body=required_text(granting_body, "granting_body",
                                                  "L'organisme qui a accordé l'aide est obligatoire."),
                     amount=parse_amount(amount, "amount"))
    db.session.add(aid)
    case.minimis_declared = True
    case.updated_at = utcnow()
    db.session.flush()
    return aid


def remove_minimis_aid(actor: User, case: Case, aid: MinimisAid) -> None:
    check_editable(actor, case)
    if aid.case_id != case.id or aid.source != "declared":
        raise ActionRefused("Cette aide ne fait pas partie de votre déclaration.")
    db.session.delete(aid)
    case.updated_at = utcnow()
    db.session.flush()


def declare_no_minimis(actor: User, case: Case) -> None:
    check_editable(actor, case)
    case.minimis_declared = True
    case.updated_at = utcnow()
    db.session.flush()
