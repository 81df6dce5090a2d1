"""The web application: the Flask app factory, the JSON API (web.api), the HTML pages
(web.pages), sign-in (web.auth), CSRF, errors and rate limits. Imports engine, forms,
signing, storage and core; never cli.
"""
