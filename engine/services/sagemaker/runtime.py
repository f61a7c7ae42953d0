"""sagemaker-runtime: InvokeEndpoint answered by the hosting part of the SageMaker backend."""

from __future__ import annotations

import io

from botocore.response import StreamingBody


class Runtime:
    def __init__(self, world):
        self.world = world

    def invoke_endpoint(self, req: dict, call) -> dict:
        hosting = self.world.services["sagemaker"].hosting
        out = hosting.invoke(req)
        body = out["Body"]
        return {"Body": StreamingBody(io.BytesIO(body), len(body)), "ContentType": out["ContentType"],
                "InvokedProductionVariant": out["InvokedProductionVariant"]}
