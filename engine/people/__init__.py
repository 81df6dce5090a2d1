"""People: the organisation (departments, staff, roles), staff passwords and API tokens, who
may see what, and applicants (citizens' accounts). Imports engine.workflow, engine.notifications,
forms and core; registers the directory the workflow asks about lanes and people.
"""
