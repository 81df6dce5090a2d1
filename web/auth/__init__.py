"""Who is asking: staff sign-in (session), API tokens, citizens' sessions and OIDC sign-in.
Imports engine services only; views elsewhere call these to know the current user.
"""
