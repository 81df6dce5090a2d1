"""The JSON API under ``/api/v1``: one blueprint per area and the OpenAPI document merged from
the fragments in web/api/openapi/. Views parse the request, call one engine service and
answer JSON; errors are mapped in web.errors.
"""
