"""The staff workspace: inbox (/work), task, approval queue, case and process pages.

Server-rendered; htmx only refreshes lists. Every view parses the request, calls one engine
service (engine.casework, engine.workflow.commands) and renders; errors become pages
in web/errors.py, except the ones a member of staff can fix in the page (form errors,
conflicts), which come back in the same page with what they typed.
"""
