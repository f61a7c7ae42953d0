"""16 concurrent boto3 clients against one server: no error, nothing lost or duplicated.

The duration is ``SAGETUTOR_SERVE_LOAD_SECONDS`` (default 5 here; the benchmark runs 30).
"""

from __future__ import annotations

import os

from tests.serve import load
from tests.serve.conftest import client


def test_sixteen_clients_mixing_describes_invokes_and_creates(serve):
    srv = serve(speed=600)
    load.deploy(srv)
    row = client(srv, "s3").get_object(Bucket="sagetutor-datasets", Key="breast-cancer/test/part-00000.csv")[
        "Body"].read().decode().splitlines()[0].split(",", 1)[1]
    seconds = float(os.environ.get("SAGETUTOR_SERVE_LOAD_SECONDS", "5"))
    result = load.run(srv, row, clients=16, seconds=seconds)
    assert result.errors == []
    assert result.calls > 16 * 4
    models, keys = load.listed(srv)
    created = [m for m in models if m.startswith("load-") and m != "load-model"]
    assert sorted(created) == sorted(result.created_models) and len(set(created)) == len(created)
    assert sorted(keys) == sorted(result.created_keys) and len(set(keys)) == len(keys)
    assert len(result.created_models) >= 16
