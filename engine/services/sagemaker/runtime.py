"""sagemaker-runtime: InvokeEndpoint and InvokeEndpointAsync, answered by the SageMaker backend's hosting part.

InvokeEndpoint answers with the real prediction (a streaming body, as boto3 gives
it); InvokeEndpointAsync answers 202 with the InferenceId and the S3 locations the
result or the error will be written to once the request has been processed in
virtual time (docs/deployment.md).
"""

from __future__ import annotations

import io

from botocore.response import StreamingBody


class Runtime:
    def __init__(self, world):
        self.world = world
        self._hosting = None

    @property
    def hosting(self):
        if self._hosting is None:
            self._hosting = self.world.services["sagemaker"].hosting
        return self._hosting

    def invoke_endpoint(self, req: dict, call) -> dict:
        out = self.hosting.invoke(req)
        body = out["Body"]
        return {"Body": StreamingBody(io.BytesIO(body), len(body)), "ContentType": out["ContentType"],
                "InvokedProductionVariant": out["InvokedProductionVariant"]}

    def invoke_endpoint_async(self, req: dict, call) -> dict:
        return self.hosting.invoke_async(req)
