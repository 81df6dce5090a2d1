"""HTML pages, by who uses them: public (front page, language, verification, tracking), citizens
(account pages) and staff (staff/). Server-rendered Jinja + htmx; every essential action works
without JavaScript. Views parse the request, call one engine service and render; no SQL or
workflow objects here.
"""
