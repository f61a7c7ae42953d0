"""Notebook instances and lifecycle configurations."""

from __future__ import annotations


class Notebooks:
    def __init__(self, world):
        self.world = world
