"""Application Auto Scaling for SageMaker endpoint variants."""

from __future__ import annotations


class AutoScaling:
    def __init__(self, world):
        self.world = world
