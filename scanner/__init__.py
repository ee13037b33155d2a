"""secretaudit: a pytest-style compliance and audit scanner for secrets.

The engine lives here (hook specifications, plugin manager, configuration,
model, session, CLI, terminal output).  It knows no particular check, backend
or report format: those are plugins in ``checks/`` and ``reports/``.
"""

__version__ = "0.1.0"
