"""SageMaker: the control-plane backend, assembled from one part per resource family."""

from __future__ import annotations

from typing import Any


class SageMaker:
    """Answers ``sagemaker`` operations by asking each part (training, hosting, ...) in turn."""

    def __init__(self, world):
        from engine.services.sagemaker.hosting import Hosting
        from engine.services.sagemaker.labeling import Labeling
        from engine.services.sagemaker.monitor import Monitoring
        from engine.services.sagemaker.notebooks import Notebooks
        from engine.services.sagemaker.studio import Studio
        from engine.services.sagemaker.tagging import Tagging
        from engine.services.sagemaker.training import Training
        from engine.services.sagemaker.transform import Transform
        from engine.services.sagemaker.tuning import Tuning

        self.world = world
        self.training = Training(world)
        self.hosting = Hosting(world)
        self.transform = Transform(world)
        self.monitoring = Monitoring(world)
        self.tuning = Tuning(world)
        self.labeling = Labeling(world)
        self.notebooks = Notebooks(world)
        self.studio = Studio(world)
        self.hosting.invocation_hooks.append(self.monitoring.capture)  # data capture
        self.parts: list[Any] = [self.training, self.hosting, self.transform, self.monitoring, self.tuning,
                                 self.labeling, self.notebooks, self.studio]
        self.tagging = Tagging(world, self.parts)  # AddTags, ListTags, DeleteTags; sees parts added later
        self.parts.append(self.tagging)

    def add_part(self, part: Any) -> None:
        self.parts.append(part)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        for part in self.__dict__.get("parts", []):
            method = getattr(part, name, None)
            if method is not None and callable(method) and not name.startswith("_"):
                return self._recording_tags(method) if name.startswith("create_") else method
        raise AttributeError(name)

    def _recording_tags(self, method):
        tagging = self.__dict__["tagging"]

        def create(req: dict, call=None, *args, **kwargs):
            result = method(req, call, *args, **kwargs)
            if isinstance(req, dict) and isinstance(result, dict):
                tagging.record_created(req, result)
            return result

        return create
