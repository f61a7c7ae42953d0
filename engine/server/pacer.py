"""Virtual time at a multiple of real time: ``speed`` virtual seconds pass per wall-clock second.

The schedule is ``virtual = v0 + speed * (monotonic() - t0)``; every request first
brings the engine's clock up to it (``catch_up``), and a background thread does
the same a few times a second so jobs progress and meters run between requests.
With ``speed == 0`` the clock moves only through ``advance`` (the control call
``POST /_sagetutor/advance?seconds=N``), so the same calls at the same virtual
times give the same answers. ``advance`` also works at a positive speed: it
shifts the schedule forward.
"""

from __future__ import annotations

import threading
import time


class Pacer:
    def __init__(self, engine, speed: float, tick: float = 0.1):
        if speed < 0:
            raise ValueError(f"speed must be 0 or more, got {speed}")
        self.engine = engine
        self.tick = tick
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = time.monotonic()
        self._v0 = engine.seconds
        self._speed = float(speed)

    @property
    def speed(self) -> float:
        return self._speed

    def set_speed(self, speed: float) -> None:
        if speed < 0:
            raise ValueError(f"speed must be 0 or more, got {speed}")
        with self._lock:
            self._catch_up()
            self._t0, self._v0, self._speed = time.monotonic(), self.engine.seconds, float(speed)

    def target(self) -> float:
        return self._v0 + self._speed * (time.monotonic() - self._t0)

    def catch_up(self) -> None:
        """Run the engine's clock up to the schedule (never backwards)."""
        if self._speed <= 0:
            return
        with self._lock:
            self._catch_up()

    def _catch_up(self) -> None:
        if self._speed <= 0:
            return
        behind = self.target() - self.engine.seconds
        if behind > 1e-6:
            self.engine.advance(behind)

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` of virtual time pass now, on top of the schedule."""
        if seconds < 0:
            raise ValueError(f"cannot advance the clock by a negative amount ({seconds} s)")
        with self._lock:
            self._catch_up()
            if seconds > 0:
                self.engine.advance(seconds)
            self._t0, self._v0 = time.monotonic(), self.engine.seconds

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="sagetutor-clock", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.tick):
            try:
                self.catch_up()
            except Exception:  # noqa: BLE001 - a failing simulation step must not kill the clock thread
                time.sleep(self.tick)
