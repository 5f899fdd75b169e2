"""What only the platform admin does that has no domain package of its own: committees."""
from sqlalchemy import select

from ..agencies.models import Agency
from ..agencies.operations import check_admin, parse_slug
from ..auth.models import User
from ..committees.models import Committee
from ..common import ActionRefused
from ..companies.operations import clean_text
from ..extensions import db


def create_committee(actor: User, *, agency: Agency | None, name: str, slug: str) -> Committee:
    check_admin(actor)
    if agency is None:
        raise ActionRefused("Choisissez l'organisme dont dépend le comité.", "agency_id")
    slug = parse_slug(slug, "slug", max_length=80)
    if db.session.scalar(select(Committee.id).where(Committee.slug == slug)) is not None:
        raise ActionRefused("Cet identifiant est déjà pris par un autre comité.", "slug")
    committee = Committee(agency=agency, name=clean_text(name, "name", "Le nom", 200), slug=slug)
    db.session.add(committee)
    db.session.flush()
    return committee
