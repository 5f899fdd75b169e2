"""Entry point for gunicorn: ``gunicorn wsgi:app``."""
from atelier import create_app

app = create_app()
