"""gunicorn's settings for ``make serve`` and ``make serve-prod`` (``--config gunicorn.conf.py``;
gunicorn also reads this file by itself when started from this folder). The command lines keep the
address, the workers, the threads and the timeouts.

Responses do not say which server software runs the site: gunicorn would answer
``Server: gunicorn`` on every response (and give its version to the application as
``SERVER_SOFTWARE``), which only helps someone looking for a known flaw of that version. gunicorn has
no setting for it: the name it reads when it writes a response is replaced here, before any worker
starts, by a neutral one.
"""
import gunicorn
from gunicorn.http import wsgi as _gunicorn_responses

SERVER_HEADER = "atelier"

gunicorn.SERVER = gunicorn.SERVER_SOFTWARE = SERVER_HEADER
# gunicorn.http.wsgi copied both names when it was imported: its copies are the ones it uses.
_gunicorn_responses.SERVER = _gunicorn_responses.SERVER_SOFTWARE = SERVER_HEADER
