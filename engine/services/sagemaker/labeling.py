"""Ground Truth labeling jobs and work teams."""

from __future__ import annotations


class Labeling:
    def __init__(self, world):
        self.world = world
