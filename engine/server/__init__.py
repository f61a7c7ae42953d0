"""``sagetutor serve``: the engine over HTTP, speaking the AWS wire protocols boto3 uses.

    from engine import Engine
    from engine.server import Server
    srv = Server(Engine(seed=7), port=0, speed=600).start()   # a background thread
    boto3.client("sagemaker", endpoint_url=srv.url, ...)
    srv.stop()

The same backends answer the in-process clients and this front (docs/serve.md).
Nothing here imports the app (``sagetutor``).
"""

from __future__ import annotations

import threading

from engine.server.app import MAX_BODY, ServeApp

__all__ = ["MAX_BODY", "ServeApp", "Server"]


class Server:
    """A threaded WSGI server (werkzeug's) around a ``ServeApp``; loopback by default."""

    def __init__(self, engine, host: str = "127.0.0.1", port: int = 4566, *, speed: float = 600.0,
                 max_body: int = MAX_BODY, quiet: bool = True):
        from werkzeug.serving import WSGIRequestHandler, make_server

        class _Handler(WSGIRequestHandler):
            def log_request(self, code="-", size="-"):
                if not quiet:
                    super().log_request(code, size)

        self.app = ServeApp(engine, speed=speed, max_body=max_body)
        self.engine = engine
        self._server = make_server(host, port, self.app, threaded=True, request_handler=_Handler)
        self._server.daemon_threads = True
        self.host, self.port = host, self._server.server_port
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> Server:
        """Serve in a background thread (returns at once)."""
        self.app.pacer.start()
        self._thread = threading.Thread(target=self._server.serve_forever, name="sagetutor-serve", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (KeyboardInterrupt) or ``stop`` is called from another."""
        self.app.pacer.start()
        try:
            self._server.serve_forever()
        finally:
            self.app.pacer.stop()

    def close(self) -> None:
        """Release the socket and stop the clock (after ``serve_forever`` returned)."""
        self._server.server_close()
        self.app.pacer.stop()

    def stop(self) -> None:
        """Stop a server started with ``start``."""
        self._server.shutdown()
        self.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
