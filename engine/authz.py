"""Authorising a caller's API call, as AWS's request context would: action, resource, condition keys.

Every client call passes through ``Authorizer.check`` before its backend runs.
It names the IAM action (``sagemaker:CreateTrainingJob``, ``s3:GetObject``,
``sagemaker:InvokeEndpoint`` for the runtime), the resource ARN the call acts
on (``*`` where the engine does not model resource-level permissions), and the
condition keys AWS puts in the request context (``aws:SourceVpce``,
``sagemaker:VpcSubnets``, ``sagemaker:VolumeKmsKey``,
``s3:x-amz-server-side-encryption`` ...), then evaluates the caller's identity
policies with the resource's own policy where one takes part (S3 bucket
policies, KMS key policies). A call that names an execution role also needs
``iam:PassRole`` on that role. Every decision is a security fact; a denial is
AWS's error for that service, with AWS's sentence.

The default caller is the account's administrator (AdministratorAccess), so a
learner's script behaves as in a fresh personal account until it asks to run
``as_role``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from engine.errors import ServiceError
from engine.security import AccessRecord
from engine.services.iam.policy import Decision, not_authorized

#: Calls AWS answers for any authenticated caller, whatever its policies say.
ALWAYS_ALLOWED = {"sts:GetCallerIdentity"}

#: IAM action prefix of each client's service.
PREFIX = {"sagemaker": "sagemaker", "sagemaker-runtime": "sagemaker", "s3": "s3", "iam": "iam", "sts": "sts",
          "logs": "logs", "cloudwatch": "cloudwatch", "ecr": "ecr", "application-autoscaling": "application-autoscaling",
          "stepfunctions": "states", "ec2": "ec2", "kms": "kms"}

#: (error code, HTTP status) of a denial, per service, as each answers it.
DENIAL = {"s3": ("AccessDenied", 403), "iam": ("AccessDenied", 403), "sts": ("AccessDenied", 403),
          "cloudwatch": ("AccessDenied", 403), "ec2": ("UnauthorizedOperation", 403)}

#: S3 operations whose IAM action is not "s3:<Operation>".
S3_ACTIONS = {
    "ListBuckets": "s3:ListAllMyBuckets", "HeadBucket": "s3:ListBucket", "ListObjects": "s3:ListBucket",
    "ListObjectsV2": "s3:ListBucket", "ListObjectVersions": "s3:ListBucketVersions", "HeadObject": "s3:GetObject",
    "CopyObject": "s3:PutObject", "DeleteObjects": "s3:DeleteObject", "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject", "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload", "GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "PutBucketEncryption": "s3:PutEncryptionConfiguration", "DeleteBucketEncryption": "s3:PutEncryptionConfiguration",
    "PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock", "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
}
#: Runtime operations (their IAM actions live under sagemaker:).
RUNTIME_ACTIONS = {"InvokeEndpoint": "sagemaker:InvokeEndpoint", "InvokeEndpointAsync": "sagemaker:InvokeEndpointAsync",
                   "InvokeEndpointWithResponseStream": "sagemaker:InvokeEndpointWithResponseStream"}

#: SageMaker request parameter naming a resource -> the resource type in its ARN.
SAGEMAKER_RESOURCES = (
    ("TrainingJobName", "training-job"), ("HyperParameterTuningJobName", "hyper-parameter-tuning-job"),
    ("TransformJobName", "transform-job"), ("ProcessingJobName", "processing-job"),
    ("LabelingJobName", "labeling-job"), ("EndpointName", "endpoint"), ("EndpointConfigName", "endpoint-config"),
    ("ModelName", "model"), ("NotebookInstanceLifecycleConfigName", "notebook-instance-lifecycle-config"),
    ("NotebookInstanceName", "notebook-instance"), ("MonitoringScheduleName", "monitoring-schedule"),
    ("WorkteamName", "workteam"), ("DomainId", "domain"), ("JobDefinitionName", "data-quality-job-definition"),
)
#: Parameters that pass a role to a service (iam:PassRole), wherever they sit in a request.
ROLE_PARAMS = ("RoleArn", "ExecutionRoleArn", "ExecutionRole", "roleArn")


def action_for(service: str, operation: str) -> str:
    if service == "s3":
        return S3_ACTIONS.get(operation, f"s3:{operation}")
    if service == "sagemaker-runtime":
        return RUNTIME_ACTIONS.get(operation, f"sagemaker:{operation}")
    return f"{PREFIX.get(service, service)}:{operation}"


def resource_for(world, service: str, operation: str, params: dict[str, Any]) -> str:
    """The ARN IAM evaluates the call against ("*" where the engine keeps no resource-level permissions)."""
    if service == "s3":
        bucket = params.get("Bucket")
        if not bucket:
            return "*"
        key = params.get("Key")
        return f"arn:aws:s3:::{bucket}" + (f"/{key}" if key is not None else "")
    if service in ("sagemaker", "sagemaker-runtime"):
        for param, kind in SAGEMAKER_RESOURCES:
            value = params.get(param)
            if isinstance(value, str) and value:
                return world.arn("sagemaker", f"{kind}/{value.lower()}")
        return "*"
    if service == "iam":
        for param, kind in (("RoleName", "role"), ("UserName", "user")):
            if params.get(param):
                return f"arn:aws:iam::{world.account}:{kind}/{params[param]}"
        if params.get("PolicyArn"):
            return params["PolicyArn"]
        return "*"
    if service == "sts" and params.get("RoleArn"):
        return params["RoleArn"]
    if service == "kms":
        return world.services["kms"].key_arn_for(operation, params) or "*"
    return "*"


def _walk(value: Any, names: tuple[str, ...]) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            if k in names and isinstance(v, str):
                yield v
            else:
                yield from _walk(v, names)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v, names)


def _first(params: dict, *paths: str) -> Any:
    for path in paths:
        cur: Any = params
        for part in path.split("."):
            cur = cur.get(part) if isinstance(cur, dict) else None
        if cur is not None:
            return cur
    return None


def request_context(service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """Service-specific condition keys carried by this request (AWS's names)."""
    ctx: dict[str, Any] = {}
    if service == "sagemaker":
        subnets = _first(params, "VpcConfig.Subnets", "TrainingJobDefinition.VpcConfig.Subnets")
        if subnets is None and params.get("SubnetId"):
            subnets = [params["SubnetId"]]
        if subnets is not None:
            ctx["sagemaker:VpcSubnets"] = list(subnets)
        groups = _first(params, "VpcConfig.SecurityGroupIds", "TrainingJobDefinition.VpcConfig.SecurityGroupIds",
                        "SecurityGroupIds")
        if groups is not None:
            ctx["sagemaker:VpcSecurityGroupIds"] = list(groups)
        if operation in ("CreateTrainingJob", "CreateModel", "CreateHyperParameterTuningJob", "CreateProcessingJob"):
            iso = _first(params, "EnableNetworkIsolation", "TrainingJobDefinition.EnableNetworkIsolation",
                         "NetworkConfig.EnableNetworkIsolation")
            ctx["sagemaker:NetworkIsolation"] = "true" if iso else "false"
            enc = _first(params, "EnableInterContainerTrafficEncryption",
                         "TrainingJobDefinition.EnableInterContainerTrafficEncryption",
                         "NetworkConfig.EnableInterContainerTrafficEncryption")
            if operation != "CreateModel":
                ctx["sagemaker:InterContainerTrafficEncryption"] = "true" if enc else "false"
        volume_key = _first(params, "ResourceConfig.VolumeKmsKeyId", "TransformResources.VolumeKmsKeyId",
                            "TrainingJobDefinition.ResourceConfig.VolumeKmsKeyId",
                            "ProcessingResources.ClusterConfig.VolumeKmsKeyId")
        if volume_key is None and operation in ("CreateNotebookInstance", "CreateEndpointConfig"):
            volume_key = params.get("KmsKeyId")
        if volume_key:
            ctx["sagemaker:VolumeKmsKey"] = volume_key
        output_key = _first(params, "OutputDataConfig.KmsKeyId", "TransformOutput.KmsKeyId",
                            "TrainingJobDefinition.OutputDataConfig.KmsKeyId", "OutputConfig.KmsKeyId")
        if output_key:
            ctx["sagemaker:OutputKmsKey"] = output_key
        types = [t for t in (_first(params, "ResourceConfig.InstanceType", "TransformResources.InstanceType",
                                    "TrainingJobDefinition.ResourceConfig.InstanceType"),
                             params.get("InstanceType") if operation == "CreateNotebookInstance" else None) if t]
        types += [v["InstanceType"] for v in params.get("ProductionVariants", []) if v.get("InstanceType")]
        if types:
            ctx["sagemaker:InstanceTypes"] = types
        for key in ("DirectInternetAccess", "RootAccess"):
            if operation == "CreateNotebookInstance":
                ctx[f"sagemaker:{key}"] = params.get(key, "Enabled")
    elif service == "s3":
        if params.get("ServerSideEncryption"):
            ctx["s3:x-amz-server-side-encryption"] = params["ServerSideEncryption"]
        if params.get("SSEKMSKeyId"):
            ctx["s3:x-amz-server-side-encryption-aws-kms-key-id"] = params["SSEKMSKeyId"]
        if operation in ("ListObjects", "ListObjectsV2") and params.get("Prefix") is not None:
            ctx["s3:prefix"] = params["Prefix"]
    tags = params.get("Tags") if isinstance(params.get("Tags"), list) else None
    if tags:
        for t in tags:
            if isinstance(t, dict) and "Key" in t:
                ctx[f"aws:RequestTag/{t['Key']}"] = t.get("Value", "")
        ctx["aws:TagKeys"] = [t["Key"] for t in tags if isinstance(t, dict) and "Key" in t]
    return ctx


def principal_arn(principal: str) -> str:
    """aws:PrincipalArn: for an assumed-role session AWS gives the role's ARN, not the session's."""
    if ":assumed-role/" in principal:
        account = principal.split(":")[4]
        return f"arn:aws:iam::{account}:role/" + principal.split(":assumed-role/", 1)[1].split("/")[0]
    return principal


class Authorizer:
    """Decides every client call for the engine's account; records each decision."""

    def __init__(self, world):
        self.world = world

    def _iam(self):
        return self.world.services["iam"]

    def decide(self, principal: str, service: str, operation: str, params: dict[str, Any],
               network_context: dict[str, Any]) -> tuple[str, str, Decision]:
        action = action_for(service, operation)
        resource = resource_for(self.world, service, operation, params)
        context = {"aws:PrincipalArn": principal_arn(principal), "aws:RequestedRegion": self.world.region,
                   "aws:SecureTransport": "true", **network_context,
                   **request_context(service, operation, params)}
        backend = self.world.services.get(service if service != "stepfunctions" else "stepfunctions")
        custom = getattr(backend, "authorize_call", None)
        decision = None
        if custom is not None:
            decision = custom(principal, action, resource, params, context)
        if decision is None:
            decision = self._iam().authorize(principal, action, resource, context=context)
        return action, resource, decision

    def check(self, principal: str, service: str, operation: str, params: dict[str, Any],
              network_context: dict[str, Any] | None = None) -> None:
        """Raise AWS's denial for ``service`` unless the call, and every role it passes, is allowed."""
        ctx = network_context or {}
        if action_for(service, operation) in ALWAYS_ALLOWED:
            return
        if principal == self._iam().admin_arn and self._admin_untouched() and \
                not self._resource_policy_applies(service, params):
            # the administrator's only policy is AdministratorAccess (Allow * on *): nothing to evaluate
            self.world.security.record_access(AccessRecord(
                self.world.clock.seconds, principal, action_for(service, operation),
                resource_for(self.world, service, operation, params), True, "allowed"))
            return
        action, resource, decision = self.decide(principal, service, operation, params, ctx)
        self._record(principal, action, resource, decision)
        if not decision.allowed:
            raise self._denied(service, principal, action, resource, decision)
        passed_to = "states.amazonaws.com" if service == "stepfunctions" else f"{PREFIX.get(service, service)}.amazonaws.com"
        roles = () if service == "sts" else sorted(set(_walk(params, ROLE_PARAMS)))  # AssumeRole passes nothing
        for role in roles:
            if not role.startswith("arn:aws:iam::"):
                continue
            d = self._iam().authorize(principal, "iam:PassRole", role,
                                      context={"iam:PassedToService": passed_to,
                                               "aws:PrincipalArn": principal_arn(principal), **ctx})
            self._record(principal, "iam:PassRole", role, d)
            if not d.allowed:
                raise self._denied(service, principal, "iam:PassRole", role, d)

    def _admin_untouched(self) -> bool:
        """The administrator still has only AdministratorAccess (a learner may attach a Deny to it)."""
        from engine.services.iam.service import ADMIN_USER

        admin = self._iam().users.get(ADMIN_USER)
        return admin is not None and not admin.inline and admin.attached == [
            "arn:aws:iam::aws:policy/AdministratorAccess"]

    def _resource_policy_applies(self, service: str, params: dict[str, Any]) -> bool:
        """Could a resource policy deny this call (a bucket policy, any key policy)?"""
        if service == "kms":
            return True
        if service == "s3":
            b = self.world.services["s3"].buckets.get(params.get("Bucket", ""))
            return b is not None and bool(b.policy)
        return False

    def _record(self, principal: str, action: str, resource: str, decision: Decision) -> None:
        self.world.security.record_access(AccessRecord(self.world.clock.seconds, principal, action, resource,
                                                       decision.allowed, decision.reason))

    @staticmethod
    def _denied(service: str, principal: str, action: str, resource: str, decision: Decision) -> ServiceError:
        code, status = DENIAL.get(service, ("AccessDeniedException", 400))
        message = not_authorized(principal, action, resource, decision)
        if service == "ec2":
            message = "You are not authorized to perform this operation. " + message
        return ServiceError(code, message, status)
