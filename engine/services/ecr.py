"""ECR: repositories and image manifests in this account.

No container ever runs here. A bring-your-own-container image is a manifest
pushed with ``put_image`` whose ``sagetutor`` section names the learner's own
Python entry point (docs/custom-algorithms.md); SageMaker runs that file in a
subprocess when a job uses the image.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from engine.errors import ServiceError


@dataclass
class Repository:
    name: str
    arn: str
    uri: str
    created: Any
    images: dict[str, dict] = field(default_factory=dict)  # digest -> {"manifest": str, "tags": [..], "pushed": dt}


class ECR:
    def __init__(self, world):
        self.world = world
        self.repos: dict[str, Repository] = {}

    def _repo(self, name: str) -> Repository:
        r = self.repos.get(name)
        if r is None:
            raise ServiceError("RepositoryNotFoundException",
                               f"The repository with name '{name}' does not exist in the registry with id "
                               f"'{self.world.account}'")
        return r

    def resolve_image(self, repository: str, tag: str) -> dict | None:
        """The parsed manifest for ``repository:tag`` (or ``@sha256:...``), or None."""
        r = self.repos.get(repository)
        if r is None:
            return None
        for digest, img in r.images.items():
            if tag in img["tags"] or tag == digest:
                try:
                    return json.loads(img["manifest"])
                except ValueError:
                    return None
        return None

    def _view(self, r: Repository) -> dict:
        return {"repositoryArn": r.arn, "registryId": self.world.account, "repositoryName": r.name,
                "repositoryUri": r.uri, "createdAt": r.created, "imageTagMutability": "MUTABLE",
                "imageScanningConfiguration": {"scanOnPush": False},
                "encryptionConfiguration": {"encryptionType": "AES256"}}

    def create_repository(self, p: dict, call) -> dict:
        name = p["repositoryName"]
        if name in self.repos:
            raise ServiceError("RepositoryAlreadyExistsException",
                               f"The repository with name '{name}' already exists in the registry with id "
                               f"'{self.world.account}'")
        uri = f"{self.world.account}.dkr.ecr.{self.world.region}.amazonaws.com/{name}"
        r = Repository(name, self.world.arn("ecr", f"repository/{name}"), uri, self.world.clock.now)
        self.repos[name] = r
        return {"repository": self._view(r)}

    def describe_repositories(self, p: dict, call) -> dict:
        names = p.get("repositoryNames")
        repos = [self._repo(n) for n in names] if names else [self.repos[k] for k in sorted(self.repos)]
        return {"repositories": [self._view(r) for r in repos]}

    def delete_repository(self, p: dict, call) -> dict:
        r = self._repo(p["repositoryName"])
        if r.images and not p.get("force"):
            raise ServiceError("RepositoryNotEmptyException",
                               f"The repository with name '{r.name}' in registry with id '{self.world.account}' "
                               "cannot be deleted because it still contains images")
        del self.repos[r.name]
        return {"repository": self._view(r)}

    def put_image(self, p: dict, call) -> dict:
        r = self._repo(p["repositoryName"])
        manifest = p["imageManifest"]
        try:
            json.loads(manifest)
        except ValueError:
            raise ServiceError("InvalidParameterException", "Invalid parameter at 'imageManifest' failed to "
                                                            "satisfy constraint: 'Invalid JSON syntax'") from None
        digest = "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
        tag = p.get("imageTag")
        for img in r.images.values():
            if tag in img["tags"]:
                img["tags"].remove(tag)
        img = r.images.setdefault(digest, {"manifest": manifest, "tags": [], "pushed": self.world.clock.now})
        if tag and tag not in img["tags"]:
            img["tags"].append(tag)
        image_id = {"imageDigest": digest, **({"imageTag": tag} if tag else {})}
        return {"image": {"registryId": self.world.account, "repositoryName": r.name, "imageId": image_id,
                          "imageManifest": manifest,
                          "imageManifestMediaType": p.get("imageManifestMediaType",
                                                          "application/vnd.docker.distribution.manifest.v2+json")}}

    def describe_images(self, p: dict, call) -> dict:
        r = self._repo(p["repositoryName"])
        out = []
        for digest, img in sorted(r.images.items()):
            out.append({"registryId": self.world.account, "repositoryName": r.name, "imageDigest": digest,
                        "imageTags": list(img["tags"]), "imageSizeInBytes": len(img["manifest"]),
                        "imagePushedAt": img["pushed"],
                        "imageManifestMediaType": "application/vnd.docker.distribution.manifest.v2+json"})
        return {"imageDetails": out}

    def list_images(self, p: dict, call) -> dict:
        r = self._repo(p["repositoryName"])
        ids = []
        for digest, img in sorted(r.images.items()):
            ids += [{"imageDigest": digest, "imageTag": t} for t in img["tags"]] or [{"imageDigest": digest}]
        return {"imageIds": ids}

    def batch_get_image(self, p: dict, call) -> dict:
        r = self._repo(p["repositoryName"])
        images, failures = [], []
        for iid in p["imageIds"]:
            found = None
            for digest, img in r.images.items():
                if iid.get("imageDigest") == digest or iid.get("imageTag") in img["tags"]:
                    found = (digest, img)
            if found:
                images.append({"registryId": self.world.account, "repositoryName": r.name,
                               "imageId": {"imageDigest": found[0], **({"imageTag": iid["imageTag"]}
                                                                       if "imageTag" in iid else {})},
                               "imageManifest": found[1]["manifest"]})
            else:
                failures.append({"imageId": iid, "failureCode": "ImageNotFound",
                                 "failureReason": "Requested image not found"})
        return {"images": images, "failures": failures}

    def get_authorization_token(self, p: dict, call) -> dict:
        import base64

        token = base64.b64encode(b"AWS:sagetutor-local").decode()
        return {"authorizationData": [{"authorizationToken": token,
                                       "expiresAt": self.world.clock.now,
                                       "proxyEndpoint": f"https://{self.world.account}.dkr.ecr.{self.world.region}.amazonaws.com"}]}
