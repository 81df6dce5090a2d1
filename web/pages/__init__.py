"""Server-rendered pages (Jinja + htmx), one package per audience: staff/ first.

Views parse the request, call one engine service and render; no SQL or workflow objects here.
"""
