"""The key bar at the bottom of every screen: Textual's Footer, recomposed only when its keys change.

Textual's Footer rebuilds all its key widgets whenever the screen reports that its bindings
may have changed, which it does on every focus change; at launch Home reports it three times
with the same nine keys, and each rebuild restyles ten widgets (about a tenth of the time to
the first screen). This Footer compares what it would show (key, label, enabled, tooltip) with
what it shows and skips the rebuild when nothing differs.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widgets import Footer


def shown_keys(screen: Screen) -> tuple[tuple[Any, ...], ...]:
    """What a footer on ``screen`` would show, in order."""
    return tuple((binding.key, binding.description, binding.action, enabled, tooltip)
                 for (_, binding, enabled, tooltip) in screen.active_bindings.values() if binding.show)


class KeyFooter(Footer):
    """A Footer that ignores binding updates which leave its keys as they are."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shown: tuple | None = None

    def bindings_changed(self, screen: Screen) -> None:
        if not (screen.app.app_focus and self.is_attached and screen is self.screen):
            super().bindings_changed(screen)  # Footer's own bookkeeping; it does not rebuild here
            return
        shown = shown_keys(screen)
        if self._bindings_ready and shown == self._shown:
            return
        self._shown = shown
        super().bindings_changed(screen)
