"""``sagetutor serve`` fixtures: a server on a free loopback port in a background thread, and boto3 clients for it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config

from engine import Engine
from engine.server import Server


@pytest.fixture
def serve():
    """``serve(speed=0, seed=7, **kw)`` starts a server (stopped after the test) and returns it."""
    started: list[Server] = []

    def start(speed: float = 0.0, seed: int = 7, **kw) -> Server:
        srv = Server(Engine(seed=seed), "127.0.0.1", 0, speed=speed, **kw).start()
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


def client(srv: Server, service: str, key: str = "x", **kw):
    """An unmodified boto3 client pointed at ``srv`` (no retries, so every error surfaces)."""
    return boto3.client(service, endpoint_url=srv.url, aws_access_key_id=key, aws_secret_access_key="x",
                        region_name="us-east-1", config=Config(retries={"max_attempts": 0}), **kw)


def control(srv: Server, name: str, method: str = "POST", **args) -> dict:
    """A control call (``/_sagetutor/<name>``) with a JSON body; returns the JSON answer."""
    data = json.dumps(args).encode() if method == "POST" else None
    req = urllib.request.Request(f"{srv.url}/_sagetutor/{name}", data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        raise AssertionError(f"/_sagetutor/{name} answered {e.code}: {e.read().decode()}") from None
