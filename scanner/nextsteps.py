"""What to do after a run fails on findings: the lines printed under them.

A blocked commit that only says FAILED leaves the author to look up how to
accept a test value, and the usual result is ``--no-verify``.  So a failing
run ends the way pytest's short summary does: rotate a real credential; for a
fake or test value, the exact inline waiver to paste, in the comment syntax
of each file (picked by its name); or accept everything with the baseline.
Only the names, lines and check ids of findings are used: never a value.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from secretaudit.model import Finding
from secretaudit.stash import AUDIT_BACKENDS, BASELINE_PATH, SCAN_ROOT

if TYPE_CHECKING:
    from secretaudit.session import Session

#: Files listed with their waiver before "... and N more files".
MAX_FILES = 5

_HASH, _SLASH, _HTML, _DASHES, _CSS = "# {}", "// {}", "<!-- {} -->", "-- {}", "/* {} */"

#: Comment syntax by extension (lower case).  Only syntaxes that may end a line
#: of code or data: a waiver is read from the finding's own line.
BY_EXTENSION: dict[str, str] = {
    **dict.fromkeys((".sh", ".bash", ".zsh", ".ksh", ".fish", ".py", ".pyi", ".rb", ".pl", ".pm", ".r", ".yaml",
                     ".yml", ".toml", ".env", ".envrc", ".ini", ".cfg", ".conf", ".properties", ".tf", ".tfvars",
                     ".hcl", ".ps1", ".psm1", ".nix", ".cmake", ".mk", ".dockerfile", ".npmrc", ".pypirc",
                     ".gitconfig", ".service"), _HASH),
    **dict.fromkeys((".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts", ".go", ".java", ".kt", ".kts",
                     ".scala", ".groovy", ".gradle", ".c", ".h", ".cc", ".cpp", ".cxx", ".hpp", ".hh", ".cs",
                     ".swift", ".rs", ".dart", ".php", ".jsonc", ".json5", ".proto", ".sol", ".scss", ".less"),
                    _SLASH),
    **dict.fromkeys((".html", ".htm", ".xhtml", ".xml", ".svg", ".md", ".markdown", ".plist", ".csproj", ".xaml"),
                    _HTML),
    **dict.fromkeys((".sql", ".lua", ".hs"), _DASHES),
    ".css": _CSS,
}

#: Whole file names without a telling extension.
BY_NAME: dict[str, str] = {
    **dict.fromkeys(("dockerfile", "makefile", "gemfile", "rakefile", "vagrantfile", "procfile", ".env", ".envrc",
                     ".bashrc", ".zshrc", ".profile", ".bash_profile", ".npmrc", ".pypirc", ".gitconfig",
                     "credentials", "config"), _HASH),
    "jenkinsfile": _SLASH,
}

#: Files that take no comment at all: only the baseline (or a config waiver) accepts their findings.
NO_COMMENTS = frozenset({".json", ".ipynb", ".pem", ".key", ".p12", ".pfx", ".p8", ".crt", ".der", ".keystore",
                         ".jks", ".ppk", ".csv", ".tsv"})


def comment_for(path: str) -> str | None:
    """The comment template (``"# {}"``) for a file, by name; None if it takes no comment.

    ``""`` when the syntax is unknown: the caller shows the bare waiver text.
    """
    name = path.rsplit("/", 1)[-1].lower()
    if name in BY_NAME:
        return BY_NAME[name]
    if name.startswith(".env."):
        return _HASH
    dot = name.rfind(".")
    extension = name[dot:] if dot > 0 else ""
    if extension in NO_COMMENTS:
        return None
    if extension in BY_EXTENSION:
        return BY_EXTENSION[extension]
    return _HASH if not extension else ""


def waiver_text(path: str, check_ids: list[str]) -> str | None:
    """The exact inline waiver for these checks in this file, or None when the file takes no comment."""
    template = comment_for(path)
    if template is None:
        return None
    waiver = f"secretaudit: ignore[{','.join(sorted(set(check_ids)))}] <reason>"
    return template.format(waiver) if template else f"{waiver}  (in a comment on the line)"


def _in_archive(path: str, root: Path) -> bool:
    """A member of an archive (``bundle.zip!app/.env``): there is no line to put a comment on."""
    return "!" in path and not (root / path).is_file()


def lines(session: "Session") -> list[str]:
    """The advice for the failing findings of ``session``; empty when nothing fails."""
    failing = session.failing()
    if not failing:
        return []
    kinds = {target.name: target.kind for target in session.targets}
    root = Path(session.config.stash.get(SCAN_ROOT, session.config.rootdir))
    in_files: dict[str, list[Finding]] = {}
    history = other = False
    for finding in failing:
        kind = kinds.get(finding.target, "path" if finding.location.path else "")
        if kind == "path" and finding.location.path and finding.location.line:
            in_files.setdefault(finding.location.path, []).append(finding)
        elif kind == "history":
            history = True
        else:
            other = True
    out: list[str] = []
    if in_files or history:
        out.append("a real credential: rotate it now (revoke it, issue a new one), then remove it from the code"
                   + ("; it stays in git history until rewritten" if history else ""))
    waivable = {path: found for path, found in in_files.items() if not _in_archive(path, root)}
    if waivable:
        out.append("a test or fake value: accept it with this comment on its line")
        shown = list(waivable.items())[:MAX_FILES]
        width = max(len(_where(path, found)) for path, found in shown)
        for path, found in shown:
            text = waiver_text(path, [f.check_id for f in found])
            out.append(f"  {_where(path, found):<{width}}  "
                       + (text if text is not None else "(this file takes no comment: use the baseline)"))
        if len(waivable) > MAX_FILES:
            more = len(waivable) - MAX_FILES
            out.append(f"  ... and {more} more file{'s' * (more != 1)}")
    audit = bool(session.config.stash.get(AUDIT_BACKENDS))  # an audit reads no baseline
    if (in_files or history) and not audit:
        out.append("or accept every current finding: " + _baseline_command(session))
    if other or audit:
        source = session.config.source
        where = f"the 'waivers:' list of {Path(source).name}" if source else "a 'waivers:' list in the config"
        out.append(("findings in backends and the config: fix them there, or accept" if other else "or accept")
                   + f" one in {where} (check, path or secret, reason, until)")
    return out


def _baseline_command(session: "Session") -> str:
    """``secretaudit baseline update``, with ``-o FILE`` when the run read another baseline than the config's."""
    config = session.config
    used = config.stash.get(BASELINE_PATH)
    default = Path(config.rootdir if config.source else config.stash.get(SCAN_ROOT, config.rootdir)) \
        / config.settings["baseline"]
    other = used and Path(used).resolve() != default.resolve()
    return "secretaudit baseline update" + (f" -o {used}" if other else "")


def _where(path: str, found: list[Finding]) -> str:
    numbers = sorted({f.location.line for f in found if f.location.line})
    return f"{path}:{','.join(str(n) for n in numbers)}"
