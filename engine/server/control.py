"""The control calls under ``/_sagetutor/``: the clock, faults, the bill, health (docs/serve.md).

Arguments come from the query string or a JSON object body (either works);
answers are JSON. These are SageTutor's own, not AWS APIs, so no SDK sends them:
use any HTTP client (``curl -X POST 'http://127.0.0.1:4566/_sagetutor/advance?seconds=600'``).
"""

from __future__ import annotations

import json
from typing import Any


class ControlError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def _args(req) -> dict[str, Any]:
    args: dict[str, Any] = {k: v[-1] for k, v in req.query.items()}
    if req.body.strip():
        try:
            doc = json.loads(req.body)
        except ValueError as e:
            raise ControlError(400, f"the body must be a JSON object: {e}") from None
        if not isinstance(doc, dict):
            raise ControlError(400, "the body must be a JSON object")
        args.update(doc)
    return args


def _number(args: dict, name: str, default: float | None = None) -> float:
    if name not in args:
        if default is None:
            raise ControlError(400, f"missing argument {name!r}")
        return default
    try:
        return float(args[name])
    except (TypeError, ValueError):
        raise ControlError(400, f"{name} must be a number, got {args[name]!r}") from None


def _bool(args: dict, name: str) -> bool:
    v = args.get(name)
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.lower() in ("true", "1", "yes", "false", "0", "no"):
        return v.lower() in ("true", "1", "yes")
    raise ControlError(400, f"{name} must be true or false, got {v!r}")


def _clock(app) -> dict:
    eng = app.engine
    return {"virtual_time": eng.now.isoformat().replace("+00:00", "Z"), "seconds": eng.seconds,
            "speed": app.pacer.speed}


def handle(app, req, path: str) -> tuple[int, Any]:
    eng = app.engine
    name = path[len("/_sagetutor/"):].rstrip("/")
    get, post = req.method == "GET", req.method == "POST"
    if name == "health" and get:
        return 200, {"status": "ok", "seed": eng.seed, "requests": app.requests, **_clock(app)}
    if name == "clock" and get:
        app.pacer.catch_up()
        return 200, _clock(app)
    if name == "bill" and get:
        app.pacer.catch_up()
        bill = eng.bill()
        return 200, {"currency": "USD", "total": str(bill.total), "lines": bill.as_dicts(), **_clock(app)}
    if name == "timeline" and get:
        return 200, {"events": [{"seconds": e.seconds, "resource": e.resource, "kind": e.kind, "message": e.message,
                                 "status": e.status} for e in eng.timeline()]}
    if not post:
        if name in ("advance", "run_until_idle", "speed", "nominal_size") or name.startswith("faults/"):
            raise ControlError(405, f"/_sagetutor/{name} takes POST")
        raise ControlError(404, f"no control call /_sagetutor/{name} (see docs/serve.md)")
    args = _args(req)
    if name == "advance":
        app.pacer.advance(_number(args, "seconds"))
        return 200, _clock(app)
    if name == "run_until_idle":
        app.pacer.catch_up()
        eng.run_until_idle()
        app.pacer.advance(0)
        return 200, _clock(app)
    if name == "speed":
        app.pacer.set_speed(_number(args, "value"))
        return 200, _clock(app)
    if name == "faults/interrupt_spot":
        job = args.get("TrainingJobName")
        if not isinstance(job, str) or not job:
            raise ControlError(400, "missing argument 'TrainingJobName'")
        with eng.lock:
            eng.faults.interrupt_spot(TrainingJobName=job, after_seconds=_number(args, "after_seconds", 60.0))
        return 200, {"TrainingJobName": job, "pending_interrupts": eng.faults.pending_interrupts(job)}
    if name == "faults/spot_capacity":
        itype = args.get("instance_type")
        if not isinstance(itype, str) or not itype:
            raise ControlError(400, "missing argument 'instance_type'")
        with eng.lock:
            eng.faults.spot_capacity(itype, available=_bool(args, "available"))
        return 200, {"instance_type": itype, "available": eng.faults.capacity_available(itype)}
    if name == "faults/natural_spot_interruptions":
        with eng.lock:
            eng.faults.natural_spot_interruptions(_bool(args, "enabled"))
        return 200, {"enabled": eng.faults.natural_interruptions}
    if name == "nominal_size":
        prefix = args.get("s3_uri_prefix")
        eng.set_nominal_size(prefix if isinstance(prefix, str) else "", int(_number(args, "rows")))
        return 200, {"s3_uri_prefix": prefix, "rows": int(_number(args, "rows"))}
    raise ControlError(404, f"no control call /_sagetutor/{name} (see docs/serve.md)")
