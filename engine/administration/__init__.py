"""Running Polis from the administration pages: what an administrator may change beyond the org
chart — units edited in place, the org chart file previewed then applied, deployed processes,
timer schedules, incidents, API tokens and the service catalogue's switches.

Every function takes the person acting and refuses anyone who is not an administrator (the
check lives here, not only in the pages), and every change is written to the hash-chained
admin log (engine.people.admin_audit) in the caller's transaction.
"""
