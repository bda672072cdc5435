"""The one WSGI entry: ``gunicorn wsgi:app``. Never starts the scheduler."""
from api.app import create_app

app = create_app()
