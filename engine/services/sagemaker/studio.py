"""SageMaker Studio domains, user profiles and apps."""

from __future__ import annotations


class Studio:
    def __init__(self, world):
        self.world = world
