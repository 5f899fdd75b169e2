"""Every model of every domain, imported once so that SQLAlchemy and Alembic know them all."""
from .agencies.models import Agency  # noqa: F401
from .auth.models import User  # noqa: F401
from .cases.models import (Case, CaseAgency, Document, Event, FundingLine, Message,  # noqa: F401
                           Opinion, Payment, ReferenceCounter, Repayment, RepaymentInstalment)
from .committees.models import AgendaItem, Committee, Meeting  # noqa: F401
from .companies.models import Company, MinimisAid, company_members  # noqa: F401
from .schemes.models import Scheme  # noqa: F401
from .plans.models import ExecutionReport, Expense, FinancingPlan, RealisedExpense, Resource  # noqa: F401
from .questionnaires.models import Answer, Questionnaire, QuestionnaireVersion, StandardQuestion  # noqa: F401
from .api.models import ApiToken  # noqa: F401
from .webhooks.models import Webhook, WebhookAttempt, WebhookDelivery  # noqa: F401
from .audit import AuditChainHead  # noqa: F401  (and the listeners that chain the events)
from .notifications.models import (MessageAttachment, Notification, NotificationAttempt,  # noqa: F401
                                   NotificationPreference)
from .search.models import CASES_SEARCH_INDEX, COMPANIES_SEARCH_INDEX  # noqa: F401  (PostgreSQL full-text indexes)
