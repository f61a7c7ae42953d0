"""Which network path a resource's traffic takes to an AWS service or the internet, and what it costs.

SageMaker resources (training jobs, endpoints, notebooks, ...) and API callers
ask this module how their bytes would travel. The answer is a ``Route``: one of
the paths in ``engine.security`` (``PUBLIC_INTERNET``, ``NAT``, ``VPC_ENDPOINT``,
``NONE``), the gateway or endpoint it goes through, a plain sentence saying why,
and the IAM condition keys the request then carries. The state it reads is EC2's
(``engine.services.ec2``): subnets, route tables, security groups, gateways and
VPC endpoints, as the learner configured them through the ec2 client.

The rules ``route`` applies (what learners are taught):

1. No VpcConfig (``placement is None``): the resource runs in SageMaker's own
   network, which has internet access -> PUBLIC_INTERNET.
2. Otherwise each of the placement's subnets is tried in order, and the first
   that yields a path wins (the reason names the subnet and its route table).
   A subnet uses its explicitly associated route table, else its VPC's main one.
3. ``s3``: a route to the S3 prefix list (pl-63a5400a) through an *available*
   S3 gateway endpoint in that route table -> VPC_ENDPOINT (free). Else an S3
   *interface* endpoint in the VPC -> VPC_ENDPOINT (checked like rule 4's
   endpoints, private DNS not required). Else the internet rules.
4. Any other AWS service: an *available* interface endpoint for
   ``com.amazonaws.us-east-1.<service>`` in the VPC with private DNS enabled,
   whose security groups allow inbound TCP 443 from one of the placement's
   groups or from a CIDR containing the subnet's, and whose subnets the
   placement's groups may send TCP 443 to -> VPC_ENDPOINT. Such an endpoint whose
   groups block 443 -> NONE (the classic misconfiguration; the reason names the
   endpoint and its groups). Otherwise the internet rules.
5. Internet rules (also for ``service="internet"``), on the route for 0.0.0.0/0:
   to an *available* public NAT gateway whose own subnet routes 0.0.0.0/0 to an
   internet gateway attached to the VPC -> NAT; to an attached internet gateway
   when the resource has a public IP (``public_ip=True``) -> PUBLIC_INTERNET; to an
   internet gateway without a public IP -> NONE (SageMaker's network interfaces
   never get one); no such route -> NONE ("no route to <service>: add a VPC
   endpoint or a NAT gateway").
6. Paths through a gateway (internet, NAT, S3 gateway endpoint) also need one of
   the placement's security groups to allow outbound TCP 443 to 0.0.0.0/0 (or to
   the S3 prefix list for the gateway endpoint); otherwise NONE naming the groups.

Network ACLs are not modelled (every subnet has AWS's default allow-all ACL).

``carry`` routes and then records the transfer in ``world.security`` and charges
data processing: $0.045/GB through a NAT gateway, $0.01/GB through an interface
endpoint, nothing through a gateway endpoint or SageMaker's network.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from urllib.parse import urlparse

from engine.bill import line
from engine.pricing import unit_price
from engine.security import NAT, NONE, PUBLIC_INTERNET, VPC_ENDPOINT, Transfer
from engine.services.ec2 import S3_PREFIX_LIST, SecurityGroup, Subnet, VpcEndpoint

#: What ``route`` accepts as a service: AWS services with interface endpoints, and the internet.
SERVICES = ("s3", "sagemaker.api", "sagemaker.runtime", "sts", "logs", "monitoring", "ecr.api", "ecr.dkr", "kms",
            "states", "internet")
#: The source address of traffic leaving SageMaker's own network (an address AWS owns).
SAGEMAKER_NETWORK_IP = "52.94.133.131"
#: The source address of an API caller outside any VPC (a documentation address: the learner's laptop).
OUTSIDE_IP = "203.0.113.10"
HTTPS = 443


@dataclass(frozen=True)
class Placement:
    """Where a resource's network interfaces live: one VPC, its subnets and security groups."""

    vpc_id: str
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]


class PlacementError(Exception):
    """A VpcConfig that cannot be placed; ``str(e)`` is the sentence SageMaker answers (ValidationException)."""


@dataclass(frozen=True)
class Route:
    """The path traffic takes: a ``engine.security`` path, the gateway or endpoint id, why, and IAM context."""

    path: str
    via: str | None
    reason: str
    context: dict = field(default_factory=dict)


def place(ec2, subnets: list[str], security_groups: list[str]) -> Placement:
    """Check a VpcConfig against EC2: subnets and groups exist, all in one VPC. Raises PlacementError."""
    if not subnets:
        raise PlacementError("VpcConfig must name at least one subnet")
    if not security_groups:
        raise PlacementError("VpcConfig must name at least one security group")
    subnet_ids = tuple(dict.fromkeys(subnets))
    group_ids = tuple(dict.fromkeys(security_groups))
    for sid in subnet_ids:
        if sid not in ec2.subnets:
            raise PlacementError(f"The subnet ID '{sid}' does not exist")
    vpcs = {ec2.subnets[s].vpc_id for s in subnet_ids}
    if len(vpcs) > 1:
        raise PlacementError(f"Subnets [{', '.join(subnet_ids)}] are not in the same VPC")
    vpc_id = vpcs.pop()
    for gid in group_ids:
        g = ec2.groups.get(gid)
        if g is None:
            raise PlacementError(f"The security group '{gid}' does not exist")
        if g.vpc_id != vpc_id:
            raise PlacementError(f"Security group {gid} and subnet {subnet_ids[0]} belong to different VPCs")
    return Placement(vpc_id, subnet_ids, group_ids)


# ----------------------------------------------------------------------------- security group checks


def _egress_allows(groups: list[SecurityGroup], *, cidrs: tuple[str, ...] = (), prefix_list: str | None = None,
                   to_groups: tuple[str, ...] = ()) -> bool:
    """Whether any group lets TCP 443 out to a CIDR containing one of ``cidrs``, the prefix list or a group."""
    nets = [ipaddress.ip_network(c) for c in cidrs]
    for g in groups:
        for r in g.egress:
            if not r.allows_tcp(HTTPS):
                continue
            if r.cidr and any(n.subnet_of(ipaddress.ip_network(r.cidr)) for n in nets):
                return True
            if prefix_list and r.prefix_list == prefix_list:
                return True
            if r.group_id and r.group_id in to_groups:
                return True
    return False


def _ingress_allows(groups: list[SecurityGroup], from_groups: tuple[str, ...], from_cidr: str) -> bool:
    net = ipaddress.ip_network(from_cidr)
    for g in groups:
        for r in g.ingress:
            if not r.allows_tcp(HTTPS):
                continue
            if r.group_id and r.group_id in from_groups:
                return True
            if r.cidr and net.subnet_of(ipaddress.ip_network(r.cidr)):
                return True
    return False


def _names(ids) -> str:
    return ", ".join(ids)


# ----------------------------------------------------------------------------- routing


def _check_service(service: str) -> None:
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r} for a network route; known: {', '.join(SERVICES)}")


def route(ec2, placement: Placement | None, service: str, *, public_ip: bool = False) -> Route:
    """The path from ``placement`` to ``service`` by the rules in this module's docstring."""
    _check_service(service)
    ec2.settle()
    if placement is None:
        return Route(PUBLIC_INTERNET, None, "no VpcConfig: SageMaker's network, with internet access",
                     {"aws:SourceIp": SAGEMAKER_NETWORK_IP})
    first: Route | None = None
    for sid in placement.subnet_ids:
        subnet = ec2.subnets.get(sid)
        if subnet is None:
            r = Route(NONE, None, f"subnet {sid} no longer exists", {})
        else:
            r = _route_from(ec2, placement, subnet, service, public_ip)
        if r.path != NONE:
            return r
        first = first or r
    assert first is not None
    return first


def _where(ec2, subnet: Subnet) -> str:
    return f"(subnet {subnet.id}, route table {ec2.route_table_of(subnet.id).id})"


def _route_from(ec2, placement: Placement, subnet: Subnet, service: str, public_ip: bool) -> Route:
    rt = ec2.route_table_of(subnet.id)
    where = _where(ec2, subnet)
    groups = [ec2.groups[g] for g in placement.security_group_ids if g in ec2.groups]
    vpc_ctx = {"aws:SourceVpc": subnet.vpc_id}
    hint = ""
    if service == "s3":
        for r in rt.routes:
            e = ec2.endpoints.get(r.target)
            if (r.destination == S3_PREFIX_LIST and e is not None and e.type == "Gateway"
                    and e.state == "available"):
                if not _egress_allows(groups, cidrs=("0.0.0.0/0",), prefix_list=S3_PREFIX_LIST):
                    return Route(NONE, None, f"security group(s) {_names(placement.security_group_ids)} do not "
                                             f"allow outbound TCP 443 to 0.0.0.0/0 or the S3 prefix list "
                                             f"{S3_PREFIX_LIST} {where}", {})
                return Route(VPC_ENDPOINT, e.id, f"S3 gateway endpoint {e.id}: the route table sends "
                                                 f"{S3_PREFIX_LIST} to it {where}",
                             {"aws:SourceVpce": e.id, **vpc_ctx})
        strays = [e.id for e in ec2.endpoints.values()
                  if e.vpc_id == subnet.vpc_id and e.type == "Gateway" and e.service == "s3"]
        if strays:
            hint = (f"; S3 gateway endpoint {_names(strays)} is in the VPC but not associated with route table "
                    f"{rt.id}")
    if service != "internet":
        candidates = [e for e in ec2.endpoints.values()
                      if e.vpc_id == subnet.vpc_id and e.type == "Interface" and e.service == service]
        usable = [e for e in candidates if e.state == "available" and (e.private_dns or service == "s3")]
        blocked: Route | None = None
        for e in usable:
            r = _through_interface(ec2, placement, subnet, e, groups, where)
            if r.path != NONE:
                return r
            blocked = blocked or r
        if blocked is not None:
            return blocked
        for e in candidates:
            if e.state != "available":
                hint = f"; interface endpoint {e.id} for {service} is {e.state}"
            elif not e.private_dns:
                hint = (f"; interface endpoint {e.id} for {service} has private DNS disabled, so the service's "
                        "public name does not resolve to it")
    return _internet(ec2, placement, subnet, service, public_ip, groups, where, hint)


def _through_interface(ec2, placement: Placement, subnet: Subnet, e: VpcEndpoint, groups: list[SecurityGroup],
                       where: str) -> Route:
    endpoint_groups = [ec2.groups[g] for g in e.group_ids if g in ec2.groups]
    if not _ingress_allows(endpoint_groups, placement.security_group_ids, subnet.cidr):
        return Route(NONE, None, f"interface endpoint {e.id} for {e.service} is in the VPC but its security "
                                 f"group(s) {_names(e.group_ids)} do not allow inbound TCP 443 from security "
                                 f"group(s) {_names(placement.security_group_ids)} or from {subnet.cidr} {where}",
                     {})
    endpoint_cidrs = tuple(ec2.subnets[s].cidr for s in e.subnet_ids if s in ec2.subnets)
    if not _egress_allows(groups, cidrs=endpoint_cidrs, to_groups=tuple(e.group_ids)):
        return Route(NONE, None, f"security group(s) {_names(placement.security_group_ids)} do not allow "
                                 f"outbound TCP 443 to interface endpoint {e.id} for {e.service} {where}", {})
    return Route(VPC_ENDPOINT, e.id, f"interface endpoint {e.id} for {e.service} (PrivateLink) {where}",
                 {"aws:SourceVpce": e.id, "aws:SourceVpc": subnet.vpc_id})


def _default_route(rt):
    return next((r for r in rt.routes if r.destination == "0.0.0.0/0"), None)


def _internet(ec2, placement: Placement, subnet: Subnet, service: str, public_ip: bool,
              groups: list[SecurityGroup], where: str, hint: str) -> Route:
    rt = ec2.route_table_of(subnet.id)
    target = "the internet" if service == "internet" else service
    default = _default_route(rt)
    egress_ok = _egress_allows(groups, cidrs=("0.0.0.0/0",))
    no_egress = Route(NONE, None, f"security group(s) {_names(placement.security_group_ids)} do not allow outbound "
                                  f"TCP 443 to 0.0.0.0/0 {where}", {})
    if default is not None and default.target.startswith("nat-"):
        nat = ec2.nat_gateways.get(default.target)
        if nat is None or nat.state != "available":
            state = "gone" if nat is None else nat.state
            return Route(NONE, None, f"0.0.0.0/0 routes to NAT gateway {default.target}, which is {state} "
                                     f"{where}{hint}", {})
        if nat.connectivity != "public":
            return Route(NONE, None, f"0.0.0.0/0 routes to NAT gateway {nat.id}, which is private "
                                     f"(ConnectivityType private) and cannot reach {target} {where}{hint}", {})
        nat_default = _default_route(ec2.route_table_of(nat.subnet_id))
        igw = ec2.igws.get(nat_default.target) if nat_default is not None else None
        if igw is None or igw.vpc_id != subnet.vpc_id:
            return Route(NONE, None, f"0.0.0.0/0 routes to NAT gateway {nat.id}, but the NAT gateway's subnet "
                                     f"{nat.subnet_id} does not route 0.0.0.0/0 to an attached internet gateway "
                                     f"(put the NAT gateway in a public subnet) {where}{hint}", {})
        if not egress_ok:
            return no_egress
        return Route(NAT, nat.id, f"0.0.0.0/0 routes to NAT gateway {nat.id}, which reaches {target} through "
                                  f"internet gateway {igw.id} {where}", {"aws:SourceIp": nat.public_ip})
    if default is not None and default.target.startswith("igw-"):
        igw = ec2.igws.get(default.target)
        if igw is None or igw.vpc_id != subnet.vpc_id:
            return Route(NONE, None, f"0.0.0.0/0 routes to internet gateway {default.target}, which is not "
                                     f"attached to {subnet.vpc_id} (a blackhole route) {where}{hint}", {})
        if not public_ip:
            return Route(NONE, None, "the subnet routes to an internet gateway but SageMaker's network interfaces "
                                     "have no public IP address; use a private subnet with a NAT gateway or VPC "
                                     f"endpoints {where}{hint}", {})
        if not egress_ok:
            return no_egress
        return Route(PUBLIC_INTERNET, igw.id, f"0.0.0.0/0 routes to internet gateway {igw.id} and the interface "
                                              f"has a public IP address {where}",
                     {"aws:SourceIp": ec2.public_ip_for(subnet.id)})
    if service == "internet":
        return Route(NONE, None, f"no route to the internet: add a NAT gateway {where}{hint}", {})
    return Route(NONE, None, f"no route to {service}: add a VPC endpoint or a NAT gateway {where}{hint}", {})


# ----------------------------------------------------------------------------- moving bytes


def gigabytes(nbytes: int) -> Decimal:
    """Bytes as GB of 1024**3 bytes, exact."""
    with localcontext() as ctx:
        ctx.prec = 80
        return Decimal(int(nbytes)) / Decimal(1024 ** 3)


def carry(world, *, resource: str, service: str, purpose: str, placement: Placement | None, nbytes: int,
          isolated: bool = False, public_ip: bool = False) -> Route:
    """Route ``nbytes``, record the transfer in ``world.security`` and charge NAT / interface endpoint processing.

    With ``isolated`` (network isolation), an ``"outbound call"`` has no path at
    all. A NONE route is returned, not raised: the caller decides what it means.
    """
    ec2 = world.services["ec2"]
    if isolated and purpose == "outbound call":
        r = Route(NONE, None, "network isolation: the container cannot make outbound calls", {})
    else:
        r = route(ec2, placement, service, public_ip=public_ip)
    world.security.record_transfer(Transfer(world.clock.seconds, resource, service, purpose, r.path, r.via,
                                            int(nbytes), r.reason))
    charge(world, r, nbytes)
    return r


def charge(world, r: Route, nbytes: int) -> None:
    """Bill the data processing of ``nbytes`` along ``r`` (NAT gateway or interface endpoint; others are free).

    One bill line per gateway/endpoint accumulates its GB; ``carry`` calls this, and an API caller's gate
    may call it for requests it has already recorded.
    """
    if nbytes <= 0 or r.via is None:
        return
    ec2 = world.services["ec2"]
    if r.path == NAT and r.via in ec2.nat_gateways:
        _charge(world, ec2, "nat-gateway-data-processed", "nat-gateway-gb", ec2.nat_arn(r.via), r.via, nbytes,
                f"data processed by NAT gateway {r.via}")
    elif r.path == VPC_ENDPOINT and r.via in ec2.endpoints and ec2.endpoints[r.via].type == "Interface":
        _charge(world, ec2, "vpc-endpoint-data-processed", "vpc-interface-endpoint-gb", ec2.endpoint_arn(r.via),
                r.via, nbytes, f"data processed by interface endpoint {r.via}")


def _charge(world, ec2, usage: str, price_key: str, arn: str, via: str, nbytes: int, description: str) -> None:
    key = (usage, via)
    ec2.processed[key] = ec2.processed.get(key, 0) + int(nbytes)
    world.ledger.upsert(("ec2", usage, arn), line(arn, "ec2", usage, gigabytes(ec2.processed[key]), "GB",
                                                  unit_price(price_key).usd, "on-demand", description=description))


# ----------------------------------------------------------------------------- API callers


def caller_route(ec2, *, service: str, subnet: str | None = None, endpoint_url: str | None = None) -> Route:
    """The path of an API caller's request: through a named VPC endpoint, from a subnet, or from outside AWS.

    ``endpoint_url`` naming an interface endpoint's DNS name
    (``https://vpce-....<service>.us-east-1.vpce.amazonaws.com``) goes through that
    endpoint (NONE if it does not exist, is not available, or serves another
    service). ``subnet`` routes as a resource there with the VPC's default security
    group (and a public IP when the subnet maps one on launch). Neither: the
    public internet from outside any VPC.
    """
    _check_service(service)
    ec2.settle()
    host = (urlparse(endpoint_url).hostname or "") if endpoint_url else ""
    if host.startswith("vpce-") and host.endswith(".vpce.amazonaws.com"):
        eid = "-".join(host.split(".")[0].split("-")[:2])
        e = ec2.endpoints.get(eid)
        if e is None:
            return Route(NONE, None, f"{host} does not resolve: VPC endpoint {eid} does not exist", {})
        if service != "internet" and e.service != service:
            return Route(NONE, None, f"VPC endpoint {e.id} serves {e.service_name}, not {service}", {})
        if e.state != "available":
            return Route(NONE, None, f"VPC endpoint {e.id} is {e.state}, not available", {})
        return Route(VPC_ENDPOINT, e.id, f"the request names interface endpoint {e.id}'s DNS name",
                     {"aws:SourceVpce": e.id, "aws:SourceVpc": e.vpc_id})
    if subnet is not None:
        s = ec2.subnets.get(subnet)
        if s is None:
            return Route(NONE, None, f"The subnet ID '{subnet}' does not exist", {})
        placement = Placement(s.vpc_id, (s.id,), (ec2.vpcs[s.vpc_id].default_sg,))
        return route(ec2, placement, service, public_ip=s.map_public_ip)
    return Route(PUBLIC_INTERNET, None, "a caller outside any VPC", {"aws:SourceIp": OUTSIDE_IP})
