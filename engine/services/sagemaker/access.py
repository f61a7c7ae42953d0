"""What a SageMaker job or endpoint can reach: its VPC placement, its path to S3, and its KMS keys.

Training, hosting, transform and notebooks share these rules, so they live
here: a VpcConfig is checked against EC2 when the resource is created; data
moves to and from S3 along the placement's route (a gateway endpoint, a NAT
gateway, SageMaker's own network, or none, and a transfer with no route fails
as AWS fails it); keys are used through KMS with the resource's execution role,
and each volume records how it is encrypted (docs/security.md).
"""

from __future__ import annotations

from engine import network
from engine.errors import validation
from engine.security import NONE, Encryption, Transfer

#: AWS's FailureReason text when a job in a VPC cannot reach S3.
NO_S3_ROUTE = ("Please ensure that the subnet's route table has a route to an S3 VPC endpoint or a NAT device, and "
               "both the security groups and the subnet's network access control list (NACL) allow outbound traffic "
               "to S3.")
#: Instance families whose storage is local NVMe: a volume KMS key cannot apply to them.
INSTANCE_STORAGE_FAMILIES = ("ml.p3dn", "ml.p4d", "ml.p4de", "ml.p5", "ml.g4dn", "ml.g5", "ml.g6", "ml.m5d", "ml.c5d",
                             "ml.r5d", "ml.trn1", "ml.m6id", "ml.c6id", "ml.r6id")


class NoRoute(Exception):
    """A transfer found no network path; ``str()`` is the reason."""


def placement(world, vpc_config: dict | None) -> network.Placement | None:
    """The VpcConfig's placement, or ValidationException with EC2's reason (unknown subnet, mixed VPCs ...)."""
    if not vpc_config:
        return None
    try:
        return network.place(world.services["ec2"], list(vpc_config.get("Subnets", [])),
                             list(vpc_config.get("SecurityGroupIds", [])))
    except network.PlacementError as e:
        raise validation(str(e)) from None


def placement_or_none(world, vpc_config: dict | None) -> network.Placement | None:
    """Like ``placement`` for a resource validated earlier (a subnet deleted since: no placement, no route)."""
    try:
        return placement(world, vpc_config)
    except Exception:  # noqa: BLE001 - a vanished subnet means no network at all
        return None


def reach_s3(world, resource: str, vpc_config: dict | None, purpose: str) -> dict:
    """The condition keys S3 requests over the resource's route carry (aws:SourceVpce ...).

    Raises NoRoute (recording the failed transfer) when the resource has no path to S3 at all.
    """
    if not vpc_config:
        return {}
    place = placement_or_none(world, vpc_config)
    route = network.route(world.services["ec2"], place, "s3") if place is not None else None
    if route is None or route.path == "none":
        reason = route.reason if route is not None else "the VpcConfig's subnets no longer exist"
        world.security.record_transfer(Transfer(world.clock.seconds, resource, "s3", purpose, NONE, None, 0, reason))
        raise NoRoute(reason)
    return dict(route.context)


def carry_s3(world, resource: str, vpc_config: dict | None, purpose: str, nbytes: int) -> network.Route:
    """Move ``nbytes`` between the resource and S3 along its route; NoRoute when there is none."""
    place = placement_or_none(world, vpc_config) if vpc_config else None
    if vpc_config and place is None:
        raise NoRoute("the VpcConfig's subnets no longer exist")
    route = network.carry(world, resource=resource, service="s3", purpose=purpose, placement=place,
                          nbytes=int(nbytes))
    if route.path == "none":
        raise NoRoute(route.reason)
    return route


def s3_context(sse: str | None, key_arn: str | None) -> dict:
    """The condition keys of a PutObject SageMaker makes with server-side encryption."""
    ctx: dict = {}
    if sse:
        ctx["s3:x-amz-server-side-encryption"] = sse
    if key_arn:
        ctx["s3:x-amz-server-side-encryption-aws-kms-key-id"] = key_arn
    return ctx


def check_volume_key(instance_type: str, key: str | None) -> None:
    if key and instance_type.startswith(tuple(f + "." for f in INSTANCE_STORAGE_FAMILIES)):
        raise validation(f"Volume KMS key can't be used with instance type {instance_type}: its storage is local "
                         "NVMe instance storage, which is always encrypted with a hardware module. Remove "
                         "VolumeKmsKeyId or choose an instance type without instance storage.")


def use_key(world, role_arn: str, key_ref: str, action: str, on_behalf_of: str, via: str = "sagemaker"):
    """KMS's decision for the resource's execution role using ``key_ref`` (recorded and billed by KMS)."""
    principal = world.services["iam"].session_arn(role_arn)
    return world.services["kms"].use(principal, key_ref, action, via_service=via, on_behalf_of=on_behalf_of)


def record_volume(world, resource: str, kind: str, key_ref: str | None) -> None:
    """How a resource's storage volume is encrypted: its KMS key, or a key SageMaker owns."""
    if key_ref:
        key = world.services["kms"].resolve(key_ref)
        world.security.record_encryption(Encryption(f"{resource}/volume", kind, "KMS", key.arn if key else key_ref,
                                                    customer_managed=key is not None and key.manager == "CUSTOMER"))
    else:
        world.security.record_encryption(Encryption(f"{resource}/volume", kind, "KMS", None, customer_managed=False))


def record_reach(world, resource: str, place: network.Placement | None, *, public: str | None,
                 services: tuple[str, ...] = ("internet", "s3", "sagemaker.api")) -> None:
    """Where an interactive resource (a notebook, a Studio domain's apps) can reach, as security facts.

    ``public`` is the reason the resource has SageMaker's internet access (DirectInternetAccess Enabled,
    PublicInternetOnly), else None: then every service takes the placement's route.
    """
    from engine.security import PUBLIC_INTERNET

    ec2 = world.services["ec2"]
    for service in services:
        if public is not None and (service == "internet" or place is None):
            route = network.Route(PUBLIC_INTERNET, None, public, {})
        else:
            route = network.route(ec2, place, service)
        world.security.record_transfer(Transfer(world.clock.seconds, resource, service, "reachability",
                                                route.path, route.via, 0, route.reason))
