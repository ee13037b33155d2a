"""Clients for the outside world: AWS, Vault, databases.

Backends, checks and rotation all talk to the same services; the session
set-up, the login and the classification of a failure (denied, unreachable,
throttled, bad credential) are written once here.  A client knows no check:
it returns data or raises an error whose message holds no secret.
"""
