"""Configuration: defaults, then instance/config.py, then ATELIER_* environment variables."""
import pytest

from atelier import create_app, normalise_database_url


def test_environment_variables_override_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("ATELIER_DATABASE_URL", f"sqlite:///{tmp_path / 'x.sqlite3'}")
    monkeypatch.setenv("ATELIER_SECRET_KEY", "une-clé-venue-de-l-environnement")
    monkeypatch.setenv("ATELIER_PAGE_SIZE", "7")
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("x.sqlite3")
    assert app.config["SECRET_KEY"] == "une-clé-venue-de-l-environnement"
    assert app.config["PAGE_SIZE"] == 7


def test_default_database_is_sqlite_in_the_instance_folder(monkeypatch):
    monkeypatch.delenv("ATELIER_DATABASE_URL", raising=False)
    app = create_app({"SECRET_KEY": "x"})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{app.instance_path}/atelier.sqlite3"


def test_missing_secret_in_production_is_an_error(monkeypatch):
    monkeypatch.delenv("ATELIER_SECRET_KEY", raising=False)
    monkeypatch.setenv("ATELIER_ENV_NAME", "production")
    with pytest.raises(RuntimeError, match="ATELIER_SECRET_KEY"):
        create_app()


def test_development_secret_is_generated_once_into_the_instance_folder(monkeypatch):
    monkeypatch.delenv("ATELIER_SECRET_KEY", raising=False)
    first = create_app({"DATABASE_URL": "sqlite://"})
    second = create_app({"DATABASE_URL": "sqlite://"})
    assert len(first.config["SECRET_KEY"]) == 64
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]


@pytest.mark.parametrize("url, expected", [
    ("postgresql://u:p@127.0.0.1/atelier", "postgresql+psycopg://u:p@127.0.0.1/atelier"),
    ("postgres://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
    ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ("sqlite:///x.sqlite3", "sqlite:///x.sqlite3"),
])
def test_postgresql_urls_use_psycopg_3(url, expected):
    assert normalise_database_url(url) == expected
