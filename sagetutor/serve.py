"""``sagetutor serve``: run the simulated account as an HTTP endpoint for unmodified boto3 code (docs/serve.md)."""

from __future__ import annotations

import ipaddress
import signal
import sys
from pathlib import Path
from typing import TextIO


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(host: str = "127.0.0.1", port: int = 4566, speed: float = 600.0, seed: int = 7,
        state: str | None = None, verbose: bool = False, out: TextIO = sys.stdout) -> int:
    from engine import Engine
    from engine.server import Server
    from engine.server import state as saved

    if speed < 0:
        out.write(f"sagetutor serve: --speed must be 0 or more, got {speed}\n")
        return 2
    eng = Engine(seed=seed)
    if state and Path(state).exists():
        try:
            counts = saved.load(eng, state)
        except (ValueError, KeyError, TypeError) as e:
            out.write(f"sagetutor serve: cannot load {state}: {e}\n")
            return 2
        out.write(f"Loaded {state}: " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items()) + "\n")
    try:
        srv = Server(eng, host, port, speed=speed, quiet=not verbose)
    except OSError as e:
        out.write(f"sagetutor serve: cannot listen on {host}:{port}: {e.strerror or e}\n")
        return 1
    if not _loopback(host):
        out.write(f"WARNING: listening on {host}, not loopback: anyone who can reach it acts as the account's "
                  "administrator (signatures are not verified).\n")
    clock = "only when asked (POST /_sagetutor/advance?seconds=N)" if speed == 0 else f"{speed:g}x real time"
    out.write(f"SageTutor is serving account 123456789012 (us-east-1, seed {seed}) at {srv.url}\n"
              f"  virtual time runs {clock}\n"
              f"  export AWS_ENDPOINT_URL={srv.url} AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x "
              "AWS_DEFAULT_REGION=us-east-1\n"
              f"  bill: {srv.url}/_sagetutor/bill   health: {srv.url}/_sagetutor/health   Ctrl+C stops\n")
    out.flush()

    def _term(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _term)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        srv.close()
        if state:
            saved.save(eng, state)
            out.write(f"Saved S3 and IAM resources to {state}\n")
    return 0
