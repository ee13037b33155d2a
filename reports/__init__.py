"""Report renderers, each a plugin registering formats.

A reporter sees a finished :class:`~secretaudit.session.Session` (findings,
counts, the check catalogue) and renders it; it knows nothing about how any
check works.
"""
