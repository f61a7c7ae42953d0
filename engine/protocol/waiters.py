"""Waiters from botocore's own waiter definitions, sleeping in virtual time.

botocore's ``Waiter.wait`` sleeps with ``time.sleep``; ours runs the same loop
over the same ``SingleWaiterConfig`` (delay, max attempts, acceptors, and their
explanations) but advances the engine's clock by the delay instead, so a waiter
gives up after exactly the simulated time AWS's would and a one-hour job is
waited for in milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore import xform_name
from botocore.exceptions import ClientError, WaiterError
from botocore.waiter import SingleWaiterConfig, WaiterModel, is_valid_waiter_error


class VirtualWaiter:
    def __init__(self, name: str, config: SingleWaiterConfig, operation: Callable[..., dict], sleep: Callable[[float], None]):
        self.name = name
        self.config = config
        self._operation = operation
        self._sleep = sleep

    def _call(self, **kwargs: Any) -> dict:
        try:
            return self._operation(**kwargs)
        except ClientError as e:
            return e.response

    def wait(self, **kwargs: Any) -> None:
        acceptors = list(self.config.acceptors)
        options = kwargs.pop("WaiterConfig", {}) or {}
        delay = options.get("Delay", self.config.delay)
        max_attempts = options.get("MaxAttempts", self.config.max_attempts)
        state = "waiting"
        last = None
        acceptor = None
        attempts = 0
        while True:
            response = self._call(**kwargs)
            attempts += 1
            for acceptor in acceptors:
                if acceptor.matcher_func(response):
                    last = acceptor
                    state = acceptor.state
                    break
            else:
                if is_valid_waiter_error(response):
                    err = response["Error"]
                    raise WaiterError(
                        name=self.name,
                        reason=f"An error occurred ({err.get('Code', 'Unknown')}): {err.get('Message', 'Unknown')}",
                        last_response=response,
                    )
            if state == "success":
                return
            if state == "failure":
                raise WaiterError(
                    name=self.name,
                    reason=f"Waiter encountered a terminal failure state: {acceptor.explanation}",
                    last_response=response,
                )
            if attempts >= max_attempts:
                reason = "Max attempts exceeded" if last is None else (
                    f"Max attempts exceeded. Previously accepted state: {acceptor.explanation}")
                raise WaiterError(name=self.name, reason=reason, last_response=response)
            self._sleep(delay)


def install(client: Any, sleep: Callable[[float], None]) -> None:
    """Replace ``client.get_waiter`` with one that sleeps through ``sleep``."""
    try:
        config = client._get_waiter_config()
    except Exception:  # a service with no waiters
        config = {}
    if not config:
        return
    model = WaiterModel(config)
    by_snake = {xform_name(n): n for n in model.waiter_names}

    def get_waiter(waiter_name: str) -> VirtualWaiter:
        if waiter_name not in by_snake:
            raise ValueError(f"Waiter does not exist: {waiter_name}")
        single = model.get_waiter(by_snake[waiter_name])
        return VirtualWaiter(by_snake[waiter_name], single, getattr(client, xform_name(single.operation)), sleep)

    client.get_waiter = get_waiter
