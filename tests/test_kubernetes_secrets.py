"""SA108: Kubernetes Secret manifests, decoded.

The manifests are written at test time with freshly generated values, and
scanned through the real CLI; the reader and the judge are also tested on
their own for the shapes the CLI tests do not cover.
"""

from __future__ import annotations

import base64
import json
import random
import string
import time
from pathlib import Path

import pytest

from conftest import fake_aws_key_id, run_json
from secretaudit.checks import kubernetes_secrets as k8s
from secretaudit.model import FileItem


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def random_password(rng: random.Random, n: int = 20) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits + "!#%+") for _ in range(n))


def sa108(report: dict) -> list[dict]:
    return [f for f in report["findings"] if f["check_id"] == "SA108"]


def test_decoded_credentials_reported_and_placeholders_not(tmp_path: Path, rng: random.Random) -> None:
    password, key_id = random_password(rng), fake_aws_key_id(rng)
    docker = json.dumps({"auths": {"registry.internal.io": {"auth": b64(f"ci:{password}")}}})
    manifest = tmp_path / "secret.yaml"
    manifest.write_text(
        "apiVersion: v1\n"
        "kind: Secret\n"  # line 2
        "metadata:\n  name: app-creds\n  namespace: prod\n"
        "type: Opaque\n"
        "data:\n"  # line 7
        f"  username: {b64('admin')}\n"  # 8: a user name
        f"  password: {b64(password)}\n"  # 9: reported
        f"  aws-key-id: \"{b64(key_id)}\"\n"  # 10: reported, a known format
        f"  placeholder-password: {b64('changeme')}\n"  # 11: a placeholder
        f"  docs-password: {b64('1f2d1e2e67df')}\n"  # 12: kubernetes.io's own example
        "  templated: {{ .Values.password | b64enc }}\n"  # 13: a Helm template
        f"  database-url: {b64(f'postgres://app:{password}@db.prod.internal:5432/app')}\n"  # 14: reported
        "stringData:\n"
        f"  api-token: {password[::-1]}\n"  # 16: reported, plain
        "  ref-token: ${API_TOKEN}\n"  # 17: a reference
        "---\n"
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: regcred\n"
        "type: kubernetes.io/dockerconfigjson\n"
        "data:\n"
        f"  .dockerconfigjson: {b64(docker)}\n"  # 25: reported
        "---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n"
        "data:\n"
        f"  LOG_LEVEL: {b64('debug')}\n"
    )
    proc, report = run_json("scan", str(manifest))
    found = {(f["location"]["line"], f["message"].split(",")[1].strip()) for f in sa108(report)}
    assert found == {(9, "data key 'password'"), (10, "data key 'aws-key-id'"), (14, "data key 'database-url'"),
                     (16, "stringData key 'api-token'"), (25, "data key '.dockerconfigjson'")}, proc.stdout
    assert {f["rule"] for f in sa108(report)} == {"kubernetes-secret-data", "kubernetes-secret-stringdata"}
    messages = {f["location"]["line"]: f["message"] for f in sa108(report)}
    assert "AWS access key ID (base64-encoded)" in messages[10]
    assert "connection string with a password" in messages[14]
    assert "Docker config" in messages[25]
    assert proc.returncode == 1
    # redacted: neither the decoded values nor their base64 appear anywhere in the output
    for value in (password, key_id, b64(password), b64(key_id), password[::-1]):
        assert value not in proc.stdout and value not in proc.stderr
    # SA108 decides on the Secret's values: no SA102 guess about the base64 text next to it
    assert not [f for f in report["findings"] if f["check_id"] == "SA102" and f["location"]["line"] in (8, 9, 11)]


def test_kubectl_list_json_and_block_scalars(tmp_path: Path, rng: random.Random) -> None:
    password, key_id = random_password(rng, 24), fake_aws_key_id(rng)
    listing = tmp_path / "dump.yaml"
    listing.write_text(
        "apiVersion: v1\n"
        "items:\n"
        "- apiVersion: v1\n"
        "  data:\n"
        "    token: |\n"
        f"      {b64(password)[:16]}\n"
        f"      {b64(password)[16:]}\n"  # line 7... the value starts on line 6
        "  kind: Secret\n"
        "  metadata:\n"
        "    name: wrapped\n"
        "kind: List\n"
    )
    as_json = tmp_path / "secret.json"
    as_json.write_text(json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "j"},
                                   "data": {"user": b64("admin"), "key": b64(key_id)}}, indent=2))
    _proc, report = run_json("scan", str(listing), str(as_json))
    found = {(f["location"]["path"].rsplit("/", 1)[-1], f["location"]["line"]) for f in sa108(report)}
    assert found == {("dump.yaml", 6), ("secret.json", 9)}


def test_reader_shapes() -> None:
    text = (
        "# a comment\n"
        "kind: 'Secret'\n"
        "metadata: {name: flow}\n"
        "data:\n"
        "  a: \"cXVvdGVk\"  # trailing comment\n"
        "  'b.key': 'c2luZ2xl'\n"
        "  c: cGxh\n"
        "    aW4=\n"
        "  d: >-\n"
        "    Zm9s\n"
        "    ZGVk\n"
        "  nested:\n"
        "    inner: aWdub3JlZA==\n"
        "stringData:\n"
        "  e: \"tab\\tescaped\"\n"
    )
    values = {v.key: v for v in k8s.secret_values(text)}
    assert set(values) == {"a", "b.key", "c", "d", "e"}
    assert values["a"].raw == "cXVvdGVk" and text[values["a"].offset:].startswith("cXVvdGVk")
    assert values["b.key"].raw == "c2luZ2xl"
    assert "".join(values["c"].raw.split()) == "cGxhaW4="
    assert "".join(values["d"].raw.split()) == "Zm9sZGVk"
    assert values["e"].raw == "tab\tescaped" and values["e"].field == "stringData"
    assert all(v.name == "" for v in values.values())  # a flow mapping is not read
    assert k8s.secret_values("kind: ConfigMap\ndata:\n  a: cXVvdGVk\n") == []
    assert k8s.secret_values("Secret kind, prose only") == []


@pytest.mark.parametrize(("key", "value", "reported"), [
    ("password", "Tr0ub4dor&3-horse", True),
    ("password", "password", False),  # a placeholder
    ("password", "${DB_PASSWORD}", False),  # a reference
    ("username", "k8s-admin-7fQ2x9LmZ3", False),  # a user name is not the secret
    ("host", "db.prod.internal", False),
    ("LOG_LEVEL", "debug", False),
    ("config", "Zx8Yw7Vu6Ts5Rq4Po3Nm2Lk1Jh0Gf9Ed", True),  # random, under a neutral name
    ("config", "some-feature-flag-name", False),
    ("ca.crt", "Zx8Yw7Vu6Ts5Rq4Po3Nm2Lk1Jh0Gf9Ed", False),  # a certificate is public
])
def test_single_values(key: str, value: str, reported: bool) -> None:
    verdict = k8s.judge(k8s.SecretValue(0, b64(value), key, "data", "s"))
    assert (verdict is not None) is reported
    assert (k8s.judge(k8s.SecretValue(0, value, key, "stringData", "s")) is not None) is reported


def test_not_base64_is_not_decoded() -> None:
    assert k8s.judge(k8s.SecretValue(0, "not base64!", "password", "data", "s")) is None
    assert k8s.judge(k8s.SecretValue(0, "abc", "password", "data", "s")) is None


def test_reader_is_linear_on_a_large_manifest() -> None:
    """A megabyte of entries, and a plain scalar continued over many lines, read in well under 10 s."""
    entries = "".join(f"  key{i}: {'QUJD' * 4}\n" for i in range(40_000))
    continued = "  long: QUJD\n" + "    QUJD\n" * 100_000
    text = "kind: Secret\ndata:\n" + entries + continued
    started = time.monotonic()
    values = k8s.secret_values(text)
    assert len(values) == 40_001
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("text", [
    "kind: Secret\ndata:\n" + "- " * 300_000 + "a: QUJD\n",  # one line of nested sequence dashes
    "kind: Secret\n" * 100_000 + "data:\n  a: QUJD\n",
    "kind: Secret\ndata:\n" + " " * 500_000 + "a: QUJD\n",
    "kind: Secret\ndata:\n  a: |\n" + "    QUJD\n" * 100_000,
    '{"kind": "Secret", "data": ' + "[" * 100_000 + "]" * 100_000 + "}",
])
def test_hostile_manifests_are_read_in_linear_time(text: str) -> None:
    started = time.monotonic()
    k8s.detections(FileItem(path="s.yaml", relpath="s.yaml", text=text))
    assert time.monotonic() - started < 10


def test_the_kind_secret_line_test_answers_as_the_whole_file_search() -> None:
    """Tried only at the lines holding ``kind:``; on any text, the answer of the multi-line search."""
    import random

    from secretaudit.checks import kubernetes_secrets

    rng = random.Random(4)
    pieces = ["kind:", "kind: Secret", " ", "\t", "- ", "-", "\n", "Secret", "'Secret'", '"Secret"', "# c", "\r", "x",
              "kind", ":"]
    for _ in range(30_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 12)))
        expected = kubernetes_secrets._KIND_SECRET_YAML.search(text) is not None
        assert kubernetes_secrets._yaml_kind_secret(text) == expected, text


def test_the_kind_secret_line_test_is_linear_on_one_long_line() -> None:
    """Each line is tried once, however many ``kind:`` it holds (a look back per occurrence was quadratic)."""
    import time

    from secretaudit.checks import kubernetes_secrets

    text = "Secret " + "kind:x " * 300_000 + "\nkind: Secret\n"
    started = time.perf_counter()
    assert kubernetes_secrets._yaml_kind_secret(text)
    assert time.perf_counter() - started < 1
