"""The demo's questionnaires: three schemes ask what a real committee needs, and every demo dossier of
those schemes answers them (what it was submitted with is complete)."""
import pytest
from sqlalchemy import select
from werkzeug import security

from atelier.auth import models as auth_models
from atelier.extensions import db
from atelier.models import Answer, Case, QuestionnaireVersion, Scheme
from atelier.questionnaires.answers import missing_answers, shown_answers


@pytest.fixture(autouse=True)
def quick_password_hashes(monkeypatch):
    original = security.generate_password_hash
    monkeypatch.setattr(auth_models, "generate_password_hash",
                        lambda password, method=None: original(password, method="pbkdf2:sha256:1000"))


def test_the_demo_schemes_ask_and_the_demo_dossiers_answer(runner):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    published = {version.scheme.code for version in db.session.scalars(select(QuestionnaireVersion))}
    assert published == {"REGION-INVEST-PME", "BPI-PRET-INNOVATION", "INITIATIVE21-PRET-HONNEUR"}
    cases = [case for case in db.session.scalars(select(Case))
             if any(line.questionnaire_version_id for line in case.lines)]
    assert len(cases) >= 5
    for case in cases:
        assert missing_answers(case) == []
    investments = db.session.scalars(select(Answer).where(Answer.question_key == "investments")).first()
    assert len(investments.value) == 2 and investments.value[0]["montant_ht"]
    region = db.session.scalar(select(Scheme).where(Scheme.code == "REGION-INVEST-PME"))
    case = next(case for case in cases if any(line.scheme_id == region.id for line in case.lines))
    texts = [item.question["label"] for _, items in shown_answers(case) for item in items]
    assert "Liste des investissements prévus" in texts
    assert runner.invoke(args=["verify-audit"]).exit_code == 0
