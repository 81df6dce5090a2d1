"""HTML pages, by who uses them: public (front page, language, verification, tracking) and
citizens (account pages). Server-rendered Jinja; every essential action works without
JavaScript. Views parse the request, call one engine service and render.
"""
