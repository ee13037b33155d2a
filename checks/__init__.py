"""Built-in checks, one plugin module per family.

Each module declares its :class:`~secretaudit.model.CheckSpec` entries through
``secretaudit_register_checks`` and implements the hooks it needs
(``secretaudit_scan_file`` for repository checks).  A check knows nothing
about report formats: it returns detections and the engine does the rest.
"""
