"""Administration pages under /admin (administrators only; anyone else gets 403): the org tree
with its units, the org chart file (preview, then apply), people and positions,
substitutions, issued documents, deployed processes, timer schedules, incidents, API tokens
and the service catalogue's switches.

Views parse the form, call one engine service (which checks the administrator again and
writes the admin log) and render or redirect; a refused change comes back in the same page
with the engine's message. Forms work without JavaScript and carry the CSRF token.
"""
