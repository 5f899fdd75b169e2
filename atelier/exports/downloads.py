"""How a generated file (workbook, CSV) is sent to the person who asked for it.

Every export download goes through ``send_export``, so that each is sent the same way: as an
attachment, never cached, with exactly the ``Content-Type`` its writer declares. Werkzeug appends
``; charset=utf-8`` to any ``text/…`` type it is given, so a type that already names its charset
(``text/csv; charset=utf-8``) would come out with the charset twice: the header is set as is.
"""
from flask import send_file


def send_export(handle, *, content_type: str, filename: str):
    """The download of ``handle`` (an open binary file, rewound) named ``filename``."""
    response = send_file(handle, mimetype=content_type, as_attachment=True, download_name=filename,
                         max_age=0)
    response.headers["Content-Type"] = content_type
    return response
