"""Casework: what staff read and do on cases — inbox views, task and case details, case search,
comments, cancellation, incident retry — with the visibility rules of engine.people applied.
Imports engine.workflow, engine.people, engine.notifications and engine.requests.
"""
