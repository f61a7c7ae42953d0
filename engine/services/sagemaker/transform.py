"""Batch transform jobs (CreateTransformJob, Describe, List, Stop)."""

from __future__ import annotations


class Transform:
    def __init__(self, world):
        self.world = world
