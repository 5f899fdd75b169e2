"""Who may see which company: its members only (anything else is answered 404)."""
from flask import abort
from sqlalchemy import Select, select

from ..auth.models import User
from ..extensions import db
from .models import Company, company_members


def companies_of(user: User) -> Select:
    """``SELECT companies`` that ``user`` belongs to, by name."""
    return (select(Company)
            .join(company_members, company_members.c.company_id == Company.id)
            .where(company_members.c.user_id == user.id)
            .order_by(Company.name, Company.id))


def company_or_404(user: User, company_id: int) -> Company:
    company = db.session.scalars(companies_of(user).where(Company.id == company_id)).first()
    if company is None:
        abort(404)
    return company
