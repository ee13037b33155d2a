"""secretaudit: a pytest-style compliance and audit scanner for secrets.

The engine lives here (hook specifications, plugin manager, configuration,
model, session, CLI, terminal output).  It knows no particular check, backend
or report format: those are plugins in ``checks/`` and ``reports/``.
"""

__version__ = "0.1.0"
#: The repository (pyproject.toml's ``[project.urls] Repository``): SARIF's ``helpUri`` of check
#: SA101 is ``{__url__}#sa101``, an anchor of the README's "Checks" table.
__url__ = "https://github.com/secretaudit/secretaudit"
