"""The commands a deployment and a newcomer use: init-db, create-user, demo-logins."""
from sqlalchemy import inspect, select

from atelier import create_app
from atelier.extensions import db
from atelier.models import User


def test_init_db_creates_the_schema_then_is_a_no_op(tmp_path):
    app = create_app({"SECRET_KEY": "x", "DATABASE_URL": f"sqlite:///{tmp_path / 'neuve.sqlite3'}"})
    runner = app.test_cli_runner()
    with app.app_context():  # on top of the test app's context, so the command runs on this app
        for _ in range(2):
            result = runner.invoke(args=["init-db"])
            assert result.exit_code == 0, result.output
            assert "Base de données à jour" in result.output
        tables = set(inspect(db.engine).get_table_names())
    assert {"cases", "funding_lines", "events", "alembic_version"} <= tables


def test_create_user_makes_an_agent_secretary(runner, world):
    result = runner.invoke(args=["create-user", "Claire.Dupont@Region.fr", "--name", "Claire Dupont",
                                 "--role", "agent", "--agency", "region", "--secretary",
                                 "--password", "un mot de passe long"])
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.email == "claire.dupont@region.fr"))
    assert user.agency_id == world.region.id and user.is_secretary and user.check_password("un mot de passe long")


def test_create_user_refuses_in_french_without_writing(runner, world):
    result = runner.invoke(args=["create-user", "x@exemple.fr", "--name", "X", "--role", "agent",
                                 "--agency", "inconnu", "--password", "un mot de passe long"])
    assert result.exit_code != 0
    assert "organisme existant" in result.output
    assert db.session.scalar(select(User).where(User.email == "x@exemple.fr")) is None
    result = runner.invoke(args=["create-user", "y@exemple.fr", "--name", "Y", "--role", "admin",
                                 "--password", "court"])
    assert result.exit_code != 0 and "12 caractères" in result.output
