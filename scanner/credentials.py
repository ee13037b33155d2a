"""The stored layout of a credential, by kind: which fields a login needs.

Validation (SA401-SA403), the GitHub scope check and rotation all read a
credential out of a secret's fields before they use it; the layout is the
engine's knowledge, written once, so none of them borrows it from another.
"""

from __future__ import annotations

#: Kinds a validator can log in with (``secretaudit validate``, and rotation's check of the new value).
VALIDATED_KINDS = ("aws-access-key", "github-token", "vault-token", "database-password")


def credential_fields(kind: str, fields: dict[str, str]) -> dict[str, str]:
    """The fields a validator needs, from the standard's KV layout or plain ``value``/``token``."""
    if kind == "github-token":
        token = fields.get("personal_access_token") or fields.get("token") or fields.get("value")
        return {"token": token} if token else {}
    if kind == "vault-token":
        token = fields.get("token") or fields.get("vault_token") or fields.get("value")
        return {"token": token, **({"url": fields["url"]} if "url" in fields else {})} if token else {}
    return dict(fields)  # aws-access-key and database-password validators read the layout themselves
