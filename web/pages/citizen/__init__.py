"""The citizen's pages: the catalogue and each service's start page, the request form with its
review step and receipt, and the pages behind emailed links (confirm the email, new password).
"""
