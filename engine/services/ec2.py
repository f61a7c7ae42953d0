"""EC2's networking face: VPCs, subnets, security groups, route tables, gateways and VPC endpoints.

Only the networking that decides where a SageMaker resource's traffic can go is
simulated; there are no instances. The account starts with AWS's default VPC
(172.31.0.0/16, one default subnet per Availability Zone us-east-1a..f, an
attached internet gateway, a main route table sending 0.0.0.0/0 to it, and a
default security group). Every new VPC gets a main route table with only the
local route and a default security group (all inbound from itself, all outbound).

What callers may rely on:

* Responses use botocore's output shapes; errors use EC2's codes and message texts.
* Results list in creation order. Ids come from a counter hashed with the seed.
* NAT gateways are ``pending`` for ``NAT_PENDING_SECONDS`` of virtual time, then
  ``available`` (or ``failed`` with ``Gateway.NotAttached`` when their VPC had no
  internet gateway attached when they were created); deleting takes
  ``NAT_DELETING_SECONDS``. botocore's ``nat_gateway_available`` waiter works.
* Interface endpoints answer CreateVpcEndpoint with ``pending`` and are ``available``
  after ``ENDPOINT_PENDING_SECONDS`` (0 by default: at once); gateway endpoints are
  ``available`` at once and add a prefix-list route to their route tables.
* ``settle()`` ends transitions that are due; describes and ``engine.network`` call it,
  so states change at their exact virtual instants.
* Billing: a NAT gateway per hour from creation until DeleteNatGateway
  (``nat-gateway-hours``); an interface endpoint per subnet (AZ) per hour from
  creation until deletion (``vpc-endpoint-hours``). Gateway endpoints are free.
  Data processing is charged by ``engine.network.carry``.
* ``engine.network`` reads the state here (``vpcs``, ``subnets``, ``groups``,
  ``route_tables``, ``igws``, ``nat_gateways``, ``endpoints``) to decide paths;
  ``endpoint_policy(vpce_id)`` gives an endpoint's policy for IAM evaluation.
"""

from __future__ import annotations

import fnmatch
import hashlib
import ipaddress
import json
from dataclasses import dataclass, field
from typing import Any

from engine.errors import ServiceError
from engine.pricing import unit_price

AZS = ("us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d", "us-east-1e", "us-east-1f")
AZ_IDS = {az: f"use1-az{i + 1}" for i, az in enumerate(AZS)}
NAT_PENDING_SECONDS = 90
NAT_DELETING_SECONDS = 60
#: Interface endpoints answer CreateVpcEndpoint with State "pending" (as AWS does) and are usable after this
#: many virtual seconds; 0 (the default) makes them available at once, so a learner need not wait the minute
#: AWS takes. Gateway endpoints are always available at once.
ENDPOINT_PENDING_SECONDS = 0
S3_PREFIX_LIST = "pl-63a5400a"
DYNAMODB_PREFIX_LIST = "pl-02cd2c6b"
PREFIX_LISTS = {
    S3_PREFIX_LIST: ("com.amazonaws.us-east-1.s3",
                     ["3.5.0.0/19", "16.182.0.0/16", "18.34.0.0/19", "52.216.0.0/15", "54.231.0.0/16"]),
    DYNAMODB_PREFIX_LIST: ("com.amazonaws.us-east-1.dynamodb",
                           ["3.218.180.0/22", "3.218.184.0/22", "52.94.0.0/22", "52.119.224.0/20"]),
}
#: Endpoint services offered: short name -> endpoint types.
ENDPOINT_SERVICES: dict[str, tuple[str, ...]] = {
    "s3": ("Gateway", "Interface"),
    "dynamodb": ("Gateway",),
    "sagemaker.api": ("Interface",),
    "sagemaker.runtime": ("Interface",),
    "sts": ("Interface",),
    "logs": ("Interface",),
    "monitoring": ("Interface",),
    "ecr.api": ("Interface",),
    "ecr.dkr": ("Interface",),
    "kms": ("Interface",),
    "states": ("Interface",),
}
SERVICE_PREFIX = "com.amazonaws.us-east-1."
#: The DNS label of a service where it is not the short name (api.sagemaker.us-east-1.amazonaws.com).
_DNS_LABEL = {"sagemaker.api": "api.sagemaker", "sagemaker.runtime": "runtime.sagemaker",
              "ecr.api": "api.ecr", "ecr.dkr": "dkr.ecr"}
VPCE_HOSTED_ZONE = "Z7HUB22UULQXV"
DEFAULT_ENDPOINT_POLICY = json.dumps({"Version": "2008-10-17", "Statement": [
    {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]})


def dns_label(short: str) -> str:
    """``sagemaker.runtime`` -> ``runtime.sagemaker`` (the order AWS's host names use)."""
    return _DNS_LABEL.get(short, short)


def private_dns_name(short: str) -> str:
    label = dns_label(short)
    return f"*.{label}.us-east-1.amazonaws.com" if short == "ecr.dkr" else f"{label}.us-east-1.amazonaws.com"


# ----------------------------------------------------------------------------- state


@dataclass
class Vpc:
    id: str
    cidr: str
    is_default: bool
    dns_support: bool
    dns_hostnames: bool
    main_rtb: str = ""
    default_sg: str = ""
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Subnet:
    id: str
    vpc_id: str
    cidr: str
    az: str
    map_public_ip: bool
    default_for_az: bool
    used_ips: int = 0  # ENIs of NAT gateways and interface endpoints
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.ip_network(self.cidr)


@dataclass
class Rule:
    id: str
    protocol: str  # "-1", "tcp", "udp", "icmp" or a protocol number
    from_port: int | None  # None with protocol "-1"
    to_port: int | None
    cidr: str | None = None
    group_id: str | None = None
    prefix_list: str | None = None
    description: str | None = None

    def key(self) -> tuple:
        return (self.protocol, self.from_port, self.to_port, self.cidr, self.group_id, self.prefix_list)

    def allows_tcp(self, port: int) -> bool:
        if self.protocol == "-1":
            return True
        if self.protocol not in ("tcp", "6"):
            return False
        return self.from_port is not None and self.to_port is not None and self.from_port <= port <= self.to_port


@dataclass
class SecurityGroup:
    id: str
    name: str
    description: str
    vpc_id: str
    ingress: list[Rule] = field(default_factory=list)
    egress: list[Rule] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class RouteEntry:
    destination: str  # a CIDR or a prefix list id
    target: str  # "local", igw-, nat-, vpce-
    origin: str = "CreateRoute"

    @property
    def is_prefix_list(self) -> bool:
        return self.destination.startswith("pl-")


@dataclass
class Association:
    id: str
    route_table_id: str
    subnet_id: str | None  # None for the main association


@dataclass
class RouteTable:
    id: str
    vpc_id: str
    routes: list[RouteEntry] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class InternetGateway:
    id: str
    vpc_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Address:
    allocation_id: str
    public_ip: str
    nat_gateway_id: str | None = None
    association_id: str | None = None
    eni: str | None = None
    private_ip: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class NatGateway:
    id: str
    subnet_id: str
    vpc_id: str
    connectivity: str  # "public" | "private"
    allocation_id: str | None
    public_ip: str | None
    private_ip: str
    eni: str
    created: Any
    state: str = "pending"
    deleted: Any = None
    failure: tuple[str, str] | None = None
    meter: int | None = None
    due: float | None = None  # when the pending/deleting state ends
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class VpcEndpoint:
    id: str
    type: str  # "Gateway" | "Interface"
    vpc_id: str
    service: str  # short name: "s3", "sagemaker.runtime", ...
    created: Any
    state: str
    policy: str
    dns_suffix: str  # the 8 characters after the id in its DNS names
    route_table_ids: list[str] = field(default_factory=list)
    subnet_ids: list[str] = field(default_factory=list)
    group_ids: list[str] = field(default_factory=list)
    private_dns: bool = False
    enis: dict[str, str] = field(default_factory=dict)  # subnet -> eni
    meter: int | None = None
    due: float | None = None  # when the pending state ends
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def service_name(self) -> str:
        return SERVICE_PREFIX + self.service

    @property
    def dns_names(self) -> list[str]:
        """The endpoint-specific names: regional first, then one per AZ (interface endpoints only)."""
        if self.type != "Interface":
            return []
        label = dns_label(self.service)
        base = f"{self.id}-{self.dns_suffix}"
        return [f"{base}.{label}.us-east-1.vpce.amazonaws.com"]


# ----------------------------------------------------------------------------- helpers


def _err(code: str, message: str) -> ServiceError:
    return ServiceError(code, message)


def _tags_out(tags: dict[str, str]) -> list[dict]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _bool(v: str) -> bool:
    return str(v).lower() == "true"


def _cidr(value: str, what: str = "cidrBlock") -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(value, strict=True)
    except ValueError:
        raise _err("InvalidParameterValue",
                   f"Value ({value}) for parameter {what} is invalid. This is not a valid CIDR block.") from None


def _protocol(value: Any) -> str:
    v = str(value).lower()
    return {"all": "-1", "6": "tcp", "17": "udp", "1": "icmp"}.get(v, v)


class EC2:
    def __init__(self, world):
        self.world = world
        self._n = 0
        self.vpcs: dict[str, Vpc] = {}
        self.subnets: dict[str, Subnet] = {}
        self.groups: dict[str, SecurityGroup] = {}
        self.route_tables: dict[str, RouteTable] = {}
        self.associations: dict[str, Association] = {}
        self.igws: dict[str, InternetGateway] = {}
        self.addresses: dict[str, Address] = {}
        self.nat_gateways: dict[str, NatGateway] = {}
        self.endpoints: dict[str, VpcEndpoint] = {}
        #: Bytes processed so far per (usage type, gateway/endpoint id), kept by engine.network.carry.
        self.processed: dict[tuple[str, str], int] = {}
        self._make_default_vpc()

    # -- ids and lookups --------------------------------------------------------------
    def _id(self, prefix: str, length: int = 17) -> str:
        self._n += 1
        digest = hashlib.sha256(f"{self.world.seed}:{prefix}:{self._n}".encode()).hexdigest()
        return f"{prefix}-0{digest[:length - 1]}"

    def _hash(self, text: str) -> bytes:
        return hashlib.sha256(f"{self.world.seed}:{text}".encode()).digest()

    def public_ip_for(self, key: str) -> str:
        """A deterministic public IPv4 address in 3.x.x.x or 54.x.x.x for ``key``."""
        h = self._hash(key)
        return f"{(3, 54)[h[0] % 2]}.{h[1]}.{h[2]}.{1 + h[3] % 254}"

    def _arn(self, kind: str, rid: str) -> str:
        return self.world.arn("ec2", f"{kind}/{rid}")

    def vpc(self, vid: str) -> Vpc:
        v = self.vpcs.get(vid)
        if v is None:
            raise _err("InvalidVpcID.NotFound", f"The vpc ID '{vid}' does not exist")
        return v

    def subnet(self, sid: str) -> Subnet:
        s = self.subnets.get(sid)
        if s is None:
            raise _err("InvalidSubnetID.NotFound", f"The subnet ID '{sid}' does not exist")
        return s

    def group(self, gid: str) -> SecurityGroup:
        g = self.groups.get(gid)
        if g is None:
            raise _err("InvalidGroup.NotFound", f"The security group '{gid}' does not exist")
        return g

    def route_table(self, rid: str) -> RouteTable:
        r = self.route_tables.get(rid)
        if r is None:
            raise _err("InvalidRouteTableID.NotFound", f"The routeTable ID '{rid}' does not exist")
        return r

    def igw(self, gid: str) -> InternetGateway:
        g = self.igws.get(gid)
        if g is None:
            raise _err("InvalidInternetGatewayID.NotFound", f"The internetGateway ID '{gid}' does not exist")
        return g

    def address(self, aid: str) -> Address:
        a = self.addresses.get(aid)
        if a is None:
            raise _err("InvalidAllocationID.NotFound", f"The allocation ID '{aid}' does not exist")
        return a

    def nat_gateway(self, nid: str) -> NatGateway:
        n = self.nat_gateways.get(nid)
        if n is None:
            raise _err("NatGatewayNotFound", f"NAT gateway {nid} was not found")
        return n

    def endpoint(self, eid: str) -> VpcEndpoint:
        e = self.endpoints.get(eid)
        if e is None:
            raise _err("InvalidVpcEndpointId.NotFound", f"The VpcEndpoint Id '{eid}' does not exist")
        return e

    def default_vpc(self) -> Vpc | None:
        return next((v for v in self.vpcs.values() if v.is_default), None)

    def main_association(self, vpc_id: str) -> Association:
        return next(a for a in self.associations.values()
                    if a.subnet_id is None and self.route_tables[a.route_table_id].vpc_id == vpc_id)

    def subnet_vpc(self, subnet_id: str) -> str | None:
        """The VPC of a subnet, or None for an unknown subnet."""
        sub = self.subnets.get(subnet_id)
        return sub.vpc_id if sub is not None else None

    def default_security_group(self, vpc_id: str | None) -> str | None:
        """The id of a VPC's ``default`` security group (what AWS attaches when none is named)."""
        for g in self.groups.values():
            if g.vpc_id == vpc_id and g.name == "default":
                return g.id
        return None

    def route_table_of(self, subnet_id: str) -> RouteTable:
        """The subnet's explicitly associated route table, else its VPC's main route table."""
        for a in self.associations.values():
            if a.subnet_id == subnet_id:
                return self.route_tables[a.route_table_id]
        return self.route_tables[self.main_association(self.subnets[subnet_id].vpc_id).route_table_id]

    def attached_igw(self, vpc_id: str) -> InternetGateway | None:
        return next((g for g in self.igws.values() if g.vpc_id == vpc_id), None)

    def endpoint_policy(self, vpce_id: str) -> dict:
        """The endpoint's policy document, parsed (the default allows everything)."""
        return json.loads(self.endpoint(vpce_id).policy)

    def _dry(self, p: dict) -> None:
        if p.get("DryRun"):
            raise ServiceError("DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412)

    def _tag_spec(self, p: dict, resource_type: str) -> dict[str, str]:
        tags: dict[str, str] = {}
        for spec in p.get("TagSpecifications") or []:
            if spec.get("ResourceType", resource_type) == resource_type:
                tags.update({t["Key"]: t.get("Value", "") for t in spec.get("Tags", [])})
        return tags

    # -- the default VPC --------------------------------------------------------------
    def _make_default_vpc(self) -> None:
        vpc = self._new_vpc("172.31.0.0/16", is_default=True)
        vpc.dns_hostnames = True
        for i, az in enumerate(AZS):
            s = Subnet(self._id("subnet"), vpc.id, f"172.31.{16 * i}.0/20", az, True, True)
            self.subnets[s.id] = s
        igw = InternetGateway(self._id("igw"), vpc.id)
        self.igws[igw.id] = igw
        self.route_tables[vpc.main_rtb].routes.append(RouteEntry("0.0.0.0/0", igw.id, "CreateRoute"))

    def _new_vpc(self, cidr: str, is_default: bool = False, tags: dict | None = None) -> Vpc:
        vpc = Vpc(self._id("vpc"), cidr, is_default, dns_support=True, dns_hostnames=False, tags=tags or {})
        self.vpcs[vpc.id] = vpc
        rtb = RouteTable(self._id("rtb"), vpc.id, [RouteEntry(cidr, "local", "CreateRouteTable")])
        self.route_tables[rtb.id] = rtb
        assoc = Association(self._id("rtbassoc"), rtb.id, None)
        self.associations[assoc.id] = assoc
        sg = SecurityGroup(self._id("sg"), "default", "default VPC security group", vpc.id)
        sg.ingress.append(Rule(self._id("sgr"), "-1", None, None, group_id=sg.id))
        sg.egress.append(Rule(self._id("sgr"), "-1", None, None, cidr="0.0.0.0/0"))
        self.groups[sg.id] = sg
        vpc.main_rtb, vpc.default_sg = rtb.id, sg.id
        return vpc

    # -- filters ----------------------------------------------------------------------
    def _filter(self, items: list, filters: list[dict] | None, fields: dict[str, Any]) -> list:
        """Keep items matching every filter; ``fields`` maps a filter name to item -> value(s)."""
        out = items
        for f in filters or []:
            name, wanted = f["Name"], [str(v) for v in f.get("Values", [])]
            if name.startswith("tag:"):
                key = name[4:]
                get = (lambda it, key=key: [it.tags[key]] if key in it.tags else [])  # noqa: E731
            elif name == "tag-key":
                get = (lambda it: list(it.tags))  # noqa: E731
            elif name in fields:
                get = fields[name]
            else:
                raise _err("InvalidParameterValue", f"The filter '{name}' is invalid")

            def hit(it, get=get, wanted=wanted) -> bool:
                values = get(it)
                values = values if isinstance(values, list | tuple) else [values]
                have = [str(v).lower() if isinstance(v, bool) else str(v) for v in values if v is not None]
                return any(fnmatch.fnmatchcase(h, w) for h in have for w in wanted)

            out = [it for it in out if hit(it)]
        return out

    def _pick(self, table: dict, ids: list[str] | None, lookup) -> list:
        if ids:
            return [lookup(i) for i in dict.fromkeys(ids)]
        return list(table.values())

    # ============================================================================ VPCs
    def _vpc_view(self, v: Vpc) -> dict:
        return {"VpcId": v.id, "CidrBlock": v.cidr, "State": "available", "DhcpOptionsId": "dopt-7a8b9c2d",
                "InstanceTenancy": "default", "IsDefault": v.is_default, "OwnerId": self.world.account,
                "CidrBlockAssociationSet": [{"AssociationId": f"vpc-cidr-assoc-{v.id[4:]}", "CidrBlock": v.cidr,
                                             "CidrBlockState": {"State": "associated"}}],
                **({"Tags": _tags_out(v.tags)} if v.tags else {})}

    def create_vpc(self, p: dict, call) -> dict:
        self._dry(p)
        if "CidrBlock" not in p:
            raise _err("MissingParameter", "Either 'cidrBlock' or 'ipv4IpamPoolId' should be provided.")
        net = _cidr(p["CidrBlock"])
        if not 16 <= net.prefixlen <= 28:
            raise _err("InvalidVpc.Range", f"The CIDR '{p['CidrBlock']}' is invalid.")
        vpc = self._new_vpc(str(net), tags=self._tag_spec(p, "vpc"))
        return {"Vpc": {**self._vpc_view(vpc), "State": "pending"}}

    def describe_vpcs(self, p: dict, call) -> dict:
        vpcs = self._pick(self.vpcs, p.get("VpcIds"), self.vpc)
        vpcs = self._filter(vpcs, p.get("Filters"), {
            "vpc-id": lambda v: v.id, "cidr": lambda v: v.cidr, "cidr-block-association.cidr-block": lambda v: v.cidr,
            "is-default": lambda v: v.is_default, "isDefault": lambda v: v.is_default,
            "state": lambda v: "available", "owner-id": lambda v: self.world.account})
        return {"Vpcs": [self._vpc_view(v) for v in vpcs]}

    def delete_vpc(self, p: dict, call) -> dict:
        self._dry(p)
        self.settle()
        vpc = self.vpc(p["VpcId"])
        deps = (any(s.vpc_id == vpc.id for s in self.subnets.values())
                or self.attached_igw(vpc.id) is not None
                or any(g.vpc_id == vpc.id and g.id != vpc.default_sg for g in self.groups.values())
                or any(r.vpc_id == vpc.id and r.id != vpc.main_rtb for r in self.route_tables.values())
                or any(e.vpc_id == vpc.id for e in self.endpoints.values())
                or any(n.vpc_id == vpc.id and n.state != "deleted" for n in self.nat_gateways.values()))
        if deps:
            raise _err("DependencyViolation", f"The vpc '{vpc.id}' has dependencies and cannot be deleted.")
        del self.associations[self.main_association(vpc.id).id]
        del self.route_tables[vpc.main_rtb]
        del self.groups[vpc.default_sg]
        del self.vpcs[vpc.id]
        return {}

    def modify_vpc_attribute(self, p: dict, call) -> dict:
        self._dry(p)
        vpc = self.vpc(p["VpcId"])
        given = [k for k in ("EnableDnsSupport", "EnableDnsHostnames", "EnableNetworkAddressUsageMetrics") if k in p]
        if len(given) != 1:
            raise _err("InvalidParameterCombination",
                       "Only one attribute can be modified at a time" if given
                       else "The request must contain the parameter attribute")
        value = bool(p[given[0]].get("Value"))
        if given[0] == "EnableDnsSupport":
            vpc.dns_support = value
        elif given[0] == "EnableDnsHostnames":
            vpc.dns_hostnames = value
        return {}

    def describe_vpc_attribute(self, p: dict, call) -> dict:
        vpc = self.vpc(p["VpcId"])
        attr = p["Attribute"]
        values = {"enableDnsSupport": ("EnableDnsSupport", vpc.dns_support),
                  "enableDnsHostnames": ("EnableDnsHostnames", vpc.dns_hostnames),
                  "enableNetworkAddressUsageMetrics": ("EnableNetworkAddressUsageMetrics", False)}
        key, value = values[attr]
        return {"VpcId": vpc.id, key: {"Value": value}}

    # ============================================================================ subnets
    def _subnet_view(self, s: Subnet) -> dict:
        free = s.network.num_addresses - 5 - s.used_ips
        return {"SubnetId": s.id, "SubnetArn": self._arn("subnet", s.id), "VpcId": s.vpc_id, "CidrBlock": s.cidr,
                "AvailabilityZone": s.az, "AvailabilityZoneId": AZ_IDS[s.az], "State": "available",
                "AvailableIpAddressCount": free, "DefaultForAz": s.default_for_az,
                "MapPublicIpOnLaunch": s.map_public_ip, "MapCustomerOwnedIpOnLaunch": False,
                "AssignIpv6AddressOnCreation": False, "Ipv6CidrBlockAssociationSet": [],
                "OwnerId": self.world.account, "EnableDns64": False, "Ipv6Native": False,
                "PrivateDnsNameOptionsOnLaunch": {"HostnameType": "ip-name", "EnableResourceNameDnsARecord": False,
                                                  "EnableResourceNameDnsAAAARecord": False},
                **({"Tags": _tags_out(s.tags)} if s.tags else {})}

    def create_subnet(self, p: dict, call) -> dict:
        self._dry(p)
        vpc = self.vpc(p["VpcId"])
        if "CidrBlock" not in p:
            raise _err("MissingParameter", "The request must contain the parameter cidrBlock")
        net = _cidr(p["CidrBlock"])
        if not 16 <= net.prefixlen <= 28 or not net.subnet_of(ipaddress.ip_network(vpc.cidr)):
            raise _err("InvalidSubnet.Range", f"The CIDR '{p['CidrBlock']}' is invalid.")
        for s in self.subnets.values():
            if s.vpc_id == vpc.id and s.network.overlaps(net):
                raise _err("InvalidSubnet.Conflict", f"The CIDR '{p['CidrBlock']}' conflicts with another subnet")
        az = p.get("AvailabilityZone")
        if az is None and p.get("AvailabilityZoneId"):
            az = next((a for a, i in AZ_IDS.items() if i == p["AvailabilityZoneId"]), None)
            if az is None:
                raise _err("InvalidParameterValue", f"Value ({p['AvailabilityZoneId']}) for parameter "
                                                    "availabilityZoneId is invalid.")
        az = az or AZS[0]
        if az not in AZS:
            raise _err("InvalidParameterValue",
                       f"Value ({az}) for parameter availabilityZone is invalid. Subnets can currently only be "
                       f"created in the following availability zones: {', '.join(AZS)}.")
        s = Subnet(self._id("subnet"), vpc.id, str(net), az, False, False, tags=self._tag_spec(p, "subnet"))
        self.subnets[s.id] = s
        return {"Subnet": {**self._subnet_view(s), "State": "pending"}}

    def describe_subnets(self, p: dict, call) -> dict:
        self.settle()
        subnets = self._pick(self.subnets, p.get("SubnetIds"), self.subnet)
        subnets = self._filter(subnets, p.get("Filters"), {
            "subnet-id": lambda s: s.id, "vpc-id": lambda s: s.vpc_id, "cidr-block": lambda s: s.cidr,
            "cidr": lambda s: s.cidr, "cidrBlock": lambda s: s.cidr,
            "availability-zone": lambda s: s.az, "availabilityZone": lambda s: s.az,
            "availability-zone-id": lambda s: AZ_IDS[s.az], "default-for-az": lambda s: s.default_for_az,
            "defaultForAz": lambda s: s.default_for_az, "map-public-ip-on-launch": lambda s: s.map_public_ip,
            "state": lambda s: "available", "owner-id": lambda s: self.world.account})
        return {"Subnets": [self._subnet_view(s) for s in subnets]}

    def delete_subnet(self, p: dict, call) -> dict:
        self._dry(p)
        self.settle()
        s = self.subnet(p["SubnetId"])
        busy = (any(n.subnet_id == s.id and n.state not in ("deleted", "failed") for n in self.nat_gateways.values())
                or any(s.id in e.subnet_ids for e in self.endpoints.values()))
        if busy:
            raise _err("DependencyViolation", f"The subnet '{s.id}' has dependencies and cannot be deleted.")
        for aid in [a.id for a in self.associations.values() if a.subnet_id == s.id]:
            del self.associations[aid]
        del self.subnets[s.id]
        return {}

    def modify_subnet_attribute(self, p: dict, call) -> dict:
        self._dry(p)
        s = self.subnet(p["SubnetId"])
        if "MapPublicIpOnLaunch" in p:
            s.map_public_ip = bool(p["MapPublicIpOnLaunch"].get("Value"))
        return {}

    def describe_availability_zones(self, p: dict, call) -> dict:
        zones = [z for z in AZS if (not p.get("ZoneNames") or z in p["ZoneNames"])
                 and (not p.get("ZoneIds") or AZ_IDS[z] in p["ZoneIds"])]

        class Z:  # filter adaptor
            def __init__(self, z):
                self.z, self.tags = z, {}

        kept = self._filter([Z(z) for z in zones], p.get("Filters"), {
            "zone-name": lambda z: z.z, "zone-id": lambda z: AZ_IDS[z.z], "state": lambda z: "available",
            "region-name": lambda z: "us-east-1", "zone-type": lambda z: "availability-zone"})
        return {"AvailabilityZones": [
            {"State": "available", "OptInStatus": "opt-in-not-required", "Messages": [], "RegionName": "us-east-1",
             "ZoneName": z.z, "ZoneId": AZ_IDS[z.z], "GroupName": "us-east-1", "NetworkBorderGroup": "us-east-1",
             "ZoneType": "availability-zone"} for z in kept]}

    # ============================================================================ security groups
    def _rule_out(self, r: Rule, group: SecurityGroup, egress: bool) -> dict:
        out = {"SecurityGroupRuleId": r.id, "GroupId": group.id, "GroupOwnerId": self.world.account,
               "IsEgress": egress, "IpProtocol": r.protocol,
               "FromPort": -1 if r.from_port is None else r.from_port,
               "ToPort": -1 if r.to_port is None else r.to_port,
               "SecurityGroupRuleArn": self._arn("security-group-rule", r.id), "Tags": []}
        if r.cidr:
            out["CidrIpv4"] = r.cidr
        if r.prefix_list:
            out["PrefixListId"] = r.prefix_list
        if r.group_id:
            out["ReferencedGroupInfo"] = {"GroupId": r.group_id, "UserId": self.world.account}
        if r.description:
            out["Description"] = r.description
        return out

    def _permissions(self, rules: list[Rule]) -> list[dict]:
        """Rules grouped into IpPermissions by protocol and ports, as DescribeSecurityGroups shows them."""
        perms: dict[tuple, dict] = {}
        for r in rules:
            key = (r.protocol, r.from_port, r.to_port)
            perm = perms.get(key)
            if perm is None:
                perm = {"IpProtocol": r.protocol, "IpRanges": [], "Ipv6Ranges": [], "PrefixListIds": [],
                        "UserIdGroupPairs": []}
                if r.protocol != "-1":
                    perm["FromPort"], perm["ToPort"] = r.from_port, r.to_port
                perms[key] = perm
            desc = {"Description": r.description} if r.description else {}
            if r.cidr:
                perm["IpRanges"].append({"CidrIp": r.cidr, **desc})
            if r.prefix_list:
                perm["PrefixListIds"].append({"PrefixListId": r.prefix_list, **desc})
            if r.group_id:
                perm["UserIdGroupPairs"].append({"GroupId": r.group_id, "UserId": self.world.account, **desc})
        return list(perms.values())

    def _group_view(self, g: SecurityGroup) -> dict:
        return {"GroupId": g.id, "GroupName": g.name, "Description": g.description, "VpcId": g.vpc_id,
                "OwnerId": self.world.account, "SecurityGroupArn": self._arn("security-group", g.id),
                "IpPermissions": self._permissions(g.ingress), "IpPermissionsEgress": self._permissions(g.egress),
                **({"Tags": _tags_out(g.tags)} if g.tags else {})}

    def create_security_group(self, p: dict, call) -> dict:
        self._dry(p)
        vpc = self.vpc(p["VpcId"]) if p.get("VpcId") else self.default_vpc()
        if vpc is None:
            raise _err("VPCIdNotSpecified", "No default VPC for this user")
        name = p["GroupName"]
        if name == "default":
            raise _err("InvalidGroup.Reserved", "The security group 'default' is reserved")
        if any(g.vpc_id == vpc.id and g.name == name for g in self.groups.values()):
            raise _err("InvalidGroup.Duplicate", f"The security group '{name}' already exists for VPC '{vpc.id}'")
        g = SecurityGroup(self._id("sg"), name, p["Description"], vpc.id, tags=self._tag_spec(p, "security-group"))
        g.egress.append(Rule(self._id("sgr"), "-1", None, None, cidr="0.0.0.0/0"))
        self.groups[g.id] = g
        return {"GroupId": g.id, "SecurityGroupArn": self._arn("security-group", g.id),
                **({"Tags": _tags_out(g.tags)} if g.tags else {})}

    def _group_by(self, p: dict) -> SecurityGroup:
        if p.get("GroupId"):
            return self.group(p["GroupId"])
        name = p.get("GroupName")
        if not name:
            raise _err("MissingParameter", "The request must contain the parameter groupName or groupId")
        vpc = self.default_vpc()
        g = next((g for g in self.groups.values() if vpc and g.vpc_id == vpc.id and g.name == name), None)
        if g is None:
            raise _err("InvalidGroup.NotFound",
                       f"The security group '{name}' does not exist in default VPC '{vpc.id if vpc else ''}'")
        return g

    def describe_security_groups(self, p: dict, call) -> dict:
        groups = self._pick(self.groups, p.get("GroupIds"), self.group)
        if p.get("GroupNames"):
            named = [self._group_by({"GroupName": n}) for n in p["GroupNames"]]
            groups = [g for g in groups if g in named]
        groups = self._filter(groups, p.get("Filters"), {
            "group-id": lambda g: g.id, "group-name": lambda g: g.name, "vpc-id": lambda g: g.vpc_id,
            "description": lambda g: g.description, "owner-id": lambda g: self.world.account,
            "ip-permission.from-port": lambda g: [r.from_port for r in g.ingress],
            "ip-permission.to-port": lambda g: [r.to_port for r in g.ingress],
            "ip-permission.protocol": lambda g: [r.protocol for r in g.ingress],
            "ip-permission.cidr": lambda g: [r.cidr for r in g.ingress],
            "ip-permission.group-id": lambda g: [r.group_id for r in g.ingress],
            "egress.ip-permission.cidr": lambda g: [r.cidr for r in g.egress]})
        return {"SecurityGroups": [self._group_view(g) for g in groups]}

    def delete_security_group(self, p: dict, call) -> dict:
        self._dry(p)
        g = self._group_by(p)
        if g.name == "default":
            raise _err("CannotDelete",
                       f'the specified group: "{g.id}" name: "default" cannot be deleted by a user')
        referenced = any(r.group_id == g.id for o in self.groups.values() if o.id != g.id
                         for r in o.ingress + o.egress)
        if referenced or any(g.id in e.group_ids for e in self.endpoints.values()):
            raise _err("DependencyViolation", f"resource {g.id} has a dependent object")
        del self.groups[g.id]
        return {"Return": True, "GroupId": g.id}

    def _rules_from(self, p: dict, group: SecurityGroup) -> list[Rule]:
        perms = list(p.get("IpPermissions") or [])
        if p.get("IpProtocol") or p.get("CidrIp") or p.get("SourceSecurityGroupName"):
            legacy = {"IpProtocol": p.get("IpProtocol", "-1"), "FromPort": p.get("FromPort"),
                      "ToPort": p.get("ToPort")}
            if p.get("CidrIp"):
                legacy["IpRanges"] = [{"CidrIp": p["CidrIp"]}]
            if p.get("SourceSecurityGroupName"):
                legacy["UserIdGroupPairs"] = [{"GroupId": self._group_by(
                    {"GroupName": p["SourceSecurityGroupName"]}).id}]
            perms.append(legacy)
        if not perms:
            raise _err("MissingParameter", "The request must contain the parameter ipPermissions")
        rules = []
        for perm in perms:
            proto = _protocol(perm.get("IpProtocol", "-1"))
            if proto == "-1":
                lo = hi = None
            else:
                lo, hi = perm.get("FromPort"), perm.get("ToPort")
                if proto in ("tcp", "udp") and (lo is None or hi is None or not 0 <= lo <= hi <= 65535):
                    raise _err("InvalidParameterValue",
                               "Invalid value for portRange. Must specify both from and to ports with TCP/UDP.")
            sources = []
            for rng in perm.get("IpRanges") or []:
                sources.append({"cidr": str(_cidr(rng["CidrIp"], "cidrIp")), "description": rng.get("Description")})
            for pair in perm.get("UserIdGroupPairs") or []:
                gid = pair.get("GroupId") or self._group_by({"GroupName": pair.get("GroupName")}).id
                self.group(gid)
                sources.append({"group_id": gid, "description": pair.get("Description")})
            for pl in perm.get("PrefixListIds") or []:
                if pl["PrefixListId"] not in PREFIX_LISTS:
                    raise _err("InvalidPrefixListId.NotFound",
                               f"The prefix list ID '{pl['PrefixListId']}' does not exist")
                sources.append({"prefix_list": pl["PrefixListId"], "description": pl.get("Description")})
            if not sources:
                raise _err("InvalidParameterValue", "The request must contain a source or destination: "
                                                    "IpRanges, UserIdGroupPairs or PrefixListIds")
            for src in sources:
                rules.append(Rule("", proto, lo, hi, **src))
        return rules

    @staticmethod
    def _describe_rule(r: Rule) -> str:
        peer = r.cidr or r.group_id or r.prefix_list
        proto = "ALL" if r.protocol == "-1" else r.protocol.upper()
        ports = "" if r.protocol == "-1" else f", from port: {r.from_port}, to port: {r.to_port}"
        return f'the specified rule "peer: {peer}, {proto}{ports}, ALLOW" already exists'

    def _authorize(self, p: dict, egress: bool) -> dict:
        self._dry(p)
        g = self._group_by(p)
        existing = g.egress if egress else g.ingress
        new = self._rules_from(p, g)
        keys = {r.key() for r in existing}
        for r in new:
            if r.key() in keys:
                raise _err("InvalidPermission.Duplicate", self._describe_rule(r))
            keys.add(r.key())
        for r in new:
            r.id = self._id("sgr")
            existing.append(r)
        return {"Return": True, "SecurityGroupRules": [self._rule_out(r, g, egress) for r in new]}

    def _revoke(self, p: dict, egress: bool) -> dict:
        self._dry(p)
        g = self._group_by(p)
        existing = g.egress if egress else g.ingress
        if p.get("SecurityGroupRuleIds"):
            ids = set(p["SecurityGroupRuleIds"])
            missing = ids - {r.id for r in existing}
            if missing:
                raise _err("InvalidSecurityGroupRuleId.NotFound",
                           f"The security group rule ID '{sorted(missing)[0]}' does not exist")
            gone = [r for r in existing if r.id in ids]
        else:
            wanted = {r.key() for r in self._rules_from(p, g)}
            gone = [r for r in existing if r.key() in wanted]
            if len(gone) < len(wanted):
                raise _err("InvalidPermission.NotFound", "The specified rule does not exist in this security group.")
        for r in gone:
            existing.remove(r)
        return {"Return": True, "RevokedSecurityGroupRules": [self._rule_out(r, g, egress) for r in gone]}

    def authorize_security_group_ingress(self, p: dict, call) -> dict:
        return self._authorize(p, egress=False)

    def authorize_security_group_egress(self, p: dict, call) -> dict:
        return self._authorize(p, egress=True)

    def revoke_security_group_ingress(self, p: dict, call) -> dict:
        return self._revoke(p, egress=False)

    def revoke_security_group_egress(self, p: dict, call) -> dict:
        return self._revoke(p, egress=True)

    def describe_security_group_rules(self, p: dict, call) -> dict:
        rows = [(g, r, e) for g in self.groups.values() for e, rules in ((False, g.ingress), (True, g.egress))
                for r in rules]
        if p.get("SecurityGroupRuleIds"):
            ids = set(p["SecurityGroupRuleIds"])
            rows = [row for row in rows if row[1].id in ids]

        class R:  # filter adaptor
            def __init__(self, row):
                self.row, self.tags = row, {}

        kept = self._filter([R(row) for row in rows], p.get("Filters"), {
            "group-id": lambda x: x.row[0].id, "security-group-rule-id": lambda x: x.row[1].id})
        return {"SecurityGroupRules": [self._rule_out(x.row[1], x.row[0], x.row[2]) for x in kept]}

    # ============================================================================ route tables
    def _route_out(self, rt: RouteTable, r: RouteEntry) -> dict:
        out: dict[str, Any] = {"Origin": r.origin, "State": self.route_state(rt, r)}
        out["DestinationPrefixListId" if r.is_prefix_list else "DestinationCidrBlock"] = r.destination
        if r.target.startswith("nat-"):
            out["NatGatewayId"] = r.target
        else:
            out["GatewayId"] = r.target
        return out

    def route_state(self, rt: RouteTable, r: RouteEntry) -> str:
        """``active``, or ``blackhole`` when the target is gone (a detached gateway, a deleted NAT gateway)."""
        t = r.target
        if t.startswith("igw-"):
            g = self.igws.get(t)
            return "active" if g is not None and g.vpc_id == rt.vpc_id else "blackhole"
        if t.startswith("nat-"):
            n = self.nat_gateways.get(t)
            return "blackhole" if n is None or n.state in ("deleting", "deleted", "failed") else "active"
        return "active"

    def _rtb_view(self, rt: RouteTable) -> dict:
        assocs = []
        for a in self.associations.values():
            if a.route_table_id == rt.id:
                item = {"Main": a.subnet_id is None, "RouteTableAssociationId": a.id, "RouteTableId": rt.id,
                        "AssociationState": {"State": "associated"}}
                if a.subnet_id:
                    item["SubnetId"] = a.subnet_id
                assocs.append(item)
        return {"RouteTableId": rt.id, "VpcId": rt.vpc_id, "OwnerId": self.world.account,
                "Routes": [self._route_out(rt, r) for r in rt.routes], "Associations": assocs,
                "PropagatingVgws": [], "Tags": _tags_out(rt.tags)}

    def create_route_table(self, p: dict, call) -> dict:
        self._dry(p)
        vpc = self.vpc(p["VpcId"])
        rt = RouteTable(self._id("rtb"), vpc.id, [RouteEntry(vpc.cidr, "local", "CreateRouteTable")],
                        tags=self._tag_spec(p, "route-table"))
        self.route_tables[rt.id] = rt
        return {"RouteTable": self._rtb_view(rt)}

    def describe_route_tables(self, p: dict, call) -> dict:
        self.settle()
        tables = self._pick(self.route_tables, p.get("RouteTableIds"), self.route_table)

        def assocs(rt):
            return [a for a in self.associations.values() if a.route_table_id == rt.id]

        tables = self._filter(tables, p.get("Filters"), {
            "route-table-id": lambda t: t.id, "vpc-id": lambda t: t.vpc_id,
            "association.subnet-id": lambda t: [a.subnet_id for a in assocs(t)],
            "association.route-table-association-id": lambda t: [a.id for a in assocs(t)],
            "association.main": lambda t: any(a.subnet_id is None for a in assocs(t)),
            "route.destination-cidr-block": lambda t: [r.destination for r in t.routes if not r.is_prefix_list],
            "route.destination-prefix-list-id": lambda t: [r.destination for r in t.routes if r.is_prefix_list],
            "route.gateway-id": lambda t: [r.target for r in t.routes if not r.target.startswith("nat-")],
            "route.nat-gateway-id": lambda t: [r.target for r in t.routes if r.target.startswith("nat-")],
            "owner-id": lambda t: self.world.account})
        return {"RouteTables": [self._rtb_view(t) for t in tables]}

    def _route_target(self, p: dict, rt: RouteTable) -> str:
        if p.get("GatewayId"):
            gid = p["GatewayId"]
            if gid.startswith("vpce-"):
                raise _err("InvalidParameterValue", "Routes to a gateway VPC endpoint are managed by the endpoint; "
                                                    "use ModifyVpcEndpoint AddRouteTableIds")
            g = self.igw(gid)
            if g.vpc_id != rt.vpc_id:
                raise _err("InvalidParameterValue",
                           f"route table {rt.id} and network gateway {gid} belong to different networks")
            return gid
        if p.get("NatGatewayId"):
            nid = p["NatGatewayId"]
            n = self.nat_gateways.get(nid)
            if n is None:
                raise _err("InvalidNatGatewayID.NotFound", f"The natGateway ID '{nid}' does not exist")
            if n.vpc_id != rt.vpc_id:
                raise _err("InvalidParameterValue",
                           f"route table {rt.id} and NAT gateway {nid} belong to different networks")
            return nid
        other = [k for k in ("InstanceId", "NetworkInterfaceId", "VpcPeeringConnectionId", "TransitGatewayId",
                             "VpcEndpointId", "EgressOnlyInternetGatewayId", "LocalGatewayId", "CarrierGatewayId")
                 if p.get(k)]
        if other:
            raise ServiceError("UnsupportedOperation",
                               f"SageTutor simulates routes to internet and NAT gateways only, not {other[0]}.")
        raise _err("MissingParameter", "The request must contain exactly one of gatewayId, natGatewayId, "
                                       "networkInterfaceId, vpcPeeringConnectionId or instanceId")

    @staticmethod
    def _destination(p: dict) -> str:
        if p.get("DestinationCidrBlock"):
            return str(_cidr(p["DestinationCidrBlock"], "destinationCidrBlock"))
        if p.get("DestinationPrefixListId"):
            return p["DestinationPrefixListId"]
        raise _err("MissingParameter", "The request must contain the parameter destinationCidrBlock or "
                                       "destinationIpv6CidrBlock or destinationPrefixListId")

    def create_route(self, p: dict, call) -> dict:
        self._dry(p)
        rt = self.route_table(p["RouteTableId"])
        dest = self._destination(p)
        target = self._route_target(p, rt)
        if any(r.destination == dest for r in rt.routes):
            raise _err("RouteAlreadyExists", f"The route identified by {dest} already exists.")
        rt.routes.append(RouteEntry(dest, target))
        return {"Return": True}

    def replace_route(self, p: dict, call) -> dict:
        self._dry(p)
        rt = self.route_table(p["RouteTableId"])
        dest = self._destination(p)
        r = next((r for r in rt.routes if r.destination == dest), None)
        if r is None:
            raise _err("InvalidParameterValue",
                       f"There is no route defined for '{dest}' in the route table. Use CreateRoute instead.")
        if r.target == "local" or r.target.startswith("vpce-"):
            raise _err("InvalidParameterValue", f"cannot replace route {dest} in route table {rt.id}: "
                                                "it is managed by the VPC or a VPC endpoint")
        r.target = self._route_target(p, rt)
        r.origin = "CreateRoute"
        return {}

    def delete_route(self, p: dict, call) -> dict:
        self._dry(p)
        rt = self.route_table(p["RouteTableId"])
        dest = self._destination(p)
        r = next((r for r in rt.routes if r.destination == dest), None)
        if r is None:
            kind = "destination-prefix-list-id" if dest.startswith("pl-") else "destination-cidr-block"
            raise _err("InvalidRoute.NotFound", f"no route with {kind} {dest} in route table {rt.id}")
        if r.target == "local":
            raise _err("InvalidParameterValue", f"cannot remove local route {dest} in route table {rt.id}")
        rt.routes.remove(r)
        return {}

    def associate_route_table(self, p: dict, call) -> dict:
        self._dry(p)
        rt = self.route_table(p["RouteTableId"])
        if not p.get("SubnetId"):
            raise _err("MissingParameter", "The request must contain the parameter subnetId")
        s = self.subnet(p["SubnetId"])
        if s.vpc_id != rt.vpc_id:
            raise _err("InvalidParameterValue", f"Route table {rt.id} and subnet {s.id} belong to different networks")
        if any(a.subnet_id == s.id for a in self.associations.values()):
            raise _err("Resource.AlreadyAssociated",
                       f"the specified association for route table {rt.id} conflicts with an existing association")
        a = Association(self._id("rtbassoc"), rt.id, s.id)
        self.associations[a.id] = a
        return {"AssociationId": a.id, "AssociationState": {"State": "associated"}}

    def _association(self, aid: str) -> Association:
        a = self.associations.get(aid)
        if a is None:
            raise _err("InvalidAssociationID.NotFound", f"The association ID '{aid}' does not exist")
        return a

    def disassociate_route_table(self, p: dict, call) -> dict:
        self._dry(p)
        a = self._association(p["AssociationId"])
        if a.subnet_id is None:
            raise _err("InvalidParameterValue", f"cannot disassociate the main route table association {a.id}")
        del self.associations[a.id]
        return {}

    def replace_route_table_association(self, p: dict, call) -> dict:
        self._dry(p)
        a = self._association(p["AssociationId"])
        rt = self.route_table(p["RouteTableId"])
        if self.route_tables[a.route_table_id].vpc_id != rt.vpc_id:
            raise _err("InvalidParameterValue", f"Route table {rt.id} belongs to a different network")
        del self.associations[a.id]
        new = Association(self._id("rtbassoc"), rt.id, a.subnet_id)
        self.associations[new.id] = new
        if a.subnet_id is None:
            self.vpcs[rt.vpc_id].main_rtb = rt.id
        return {"NewAssociationId": new.id, "AssociationState": {"State": "associated"}}

    def delete_route_table(self, p: dict, call) -> dict:
        self._dry(p)
        rt = self.route_table(p["RouteTableId"])
        if any(a.route_table_id == rt.id for a in self.associations.values()):
            raise _err("DependencyViolation", f"The routeTable '{rt.id}' has dependencies and cannot be deleted.")
        for e in self.endpoints.values():
            if rt.id in e.route_table_ids:
                e.route_table_ids.remove(rt.id)
        del self.route_tables[rt.id]
        return {}

    # ============================================================================ internet gateways
    def _igw_view(self, g: InternetGateway) -> dict:
        return {"InternetGatewayId": g.id, "OwnerId": self.world.account, "Tags": _tags_out(g.tags),
                "Attachments": [{"State": "available", "VpcId": g.vpc_id}] if g.vpc_id else []}

    def create_internet_gateway(self, p: dict, call) -> dict:
        self._dry(p)
        g = InternetGateway(self._id("igw"), tags=self._tag_spec(p, "internet-gateway"))
        self.igws[g.id] = g
        return {"InternetGateway": self._igw_view(g)}

    def describe_internet_gateways(self, p: dict, call) -> dict:
        gws = self._pick(self.igws, p.get("InternetGatewayIds"), self.igw)
        gws = self._filter(gws, p.get("Filters"), {
            "internet-gateway-id": lambda g: g.id, "attachment.vpc-id": lambda g: g.vpc_id,
            "attachment.state": lambda g: "available" if g.vpc_id else None,
            "owner-id": lambda g: self.world.account})
        return {"InternetGateways": [self._igw_view(g) for g in gws]}

    def attach_internet_gateway(self, p: dict, call) -> dict:
        self._dry(p)
        g = self.igw(p["InternetGatewayId"])
        vpc = self.vpc(p["VpcId"])
        if g.vpc_id is not None:
            raise _err("Resource.AlreadyAssociated", f"resource {g.id} is already attached to network {g.vpc_id}")
        other = self.attached_igw(vpc.id)
        if other is not None:
            raise _err("Resource.AlreadyAssociated",
                       f"resource {vpc.id} is already attached to internet gateway {other.id}")
        g.vpc_id = vpc.id
        return {}

    def detach_internet_gateway(self, p: dict, call) -> dict:
        self._dry(p)
        self.settle()
        g = self.igw(p["InternetGatewayId"])
        vid = p["VpcId"]
        if g.vpc_id != vid:
            raise _err("Gateway.NotAttached", f"resource {g.id} is not attached to network {vid}")
        if any(n.vpc_id == vid and n.connectivity == "public" and n.state in ("pending", "available")
               for n in self.nat_gateways.values()):
            raise _err("DependencyViolation", f"Network {vid} has some mapped public address(es). Please unmap "
                                              "those public address(es) before detaching the gateway.")
        g.vpc_id = None
        return {}

    def delete_internet_gateway(self, p: dict, call) -> dict:
        self._dry(p)
        g = self.igw(p["InternetGatewayId"])
        if g.vpc_id is not None:
            raise _err("DependencyViolation", f"The internetGateway '{g.id}' has dependencies and cannot be deleted.")
        del self.igws[g.id]
        return {}

    # ============================================================================ Elastic IPs
    def _address_view(self, a: Address) -> dict:
        out = {"AllocationId": a.allocation_id, "PublicIp": a.public_ip, "Domain": "vpc",
               "PublicIpv4Pool": "amazon", "NetworkBorderGroup": "us-east-1", "Tags": _tags_out(a.tags)}
        if a.association_id:
            out.update(AssociationId=a.association_id, NetworkInterfaceId=a.eni,
                       NetworkInterfaceOwnerId=self.world.account, PrivateIpAddress=a.private_ip)
        return out

    def allocate_address(self, p: dict, call) -> dict:
        self._dry(p)
        aid = self._id("eipalloc")
        a = Address(aid, self.public_ip_for(aid), tags=self._tag_spec(p, "elastic-ip"))
        self.addresses[aid] = a
        return {"AllocationId": aid, "PublicIp": a.public_ip, "Domain": "vpc", "PublicIpv4Pool": "amazon",
                "NetworkBorderGroup": "us-east-1"}

    def describe_addresses(self, p: dict, call) -> dict:
        self.settle()
        addrs = self._pick(self.addresses, p.get("AllocationIds"), self.address)
        if p.get("PublicIps"):
            by_ip = {a.public_ip: a for a in self.addresses.values()}
            for ip in p["PublicIps"]:
                if ip not in by_ip:
                    raise _err("InvalidAddress.NotFound", f"Address '{ip}' not found.")
            addrs = [a for a in addrs if a.public_ip in p["PublicIps"]]
        addrs = self._filter(addrs, p.get("Filters"), {
            "allocation-id": lambda a: a.allocation_id, "public-ip": lambda a: a.public_ip,
            "domain": lambda a: "vpc", "association-id": lambda a: a.association_id,
            "network-interface-id": lambda a: a.eni})
        return {"Addresses": [self._address_view(a) for a in addrs]}

    def release_address(self, p: dict, call) -> dict:
        self._dry(p)
        self.settle()
        if p.get("AllocationId"):
            a = self.address(p["AllocationId"])
        else:
            a = next((a for a in self.addresses.values() if a.public_ip == p.get("PublicIp")), None)
            if a is None:
                raise _err("InvalidAddress.NotFound", f"Address '{p.get('PublicIp')}' not found.")
        if a.association_id:
            raise _err("InvalidIPAddress.InUse", f"Address {a.allocation_id} is in use.")
        del self.addresses[a.allocation_id]
        return {}

    # ============================================================================ NAT gateways
    def _take_ip(self, s: Subnet) -> str:
        s.used_ips += 1
        # AWS reserves the first four addresses of a subnet.
        return str(s.network.network_address + 3 + s.used_ips)

    def nat_arn(self, nid: str) -> str:
        return self._arn("natgateway", nid)

    def _nat_view(self, n: NatGateway) -> dict:
        addr = {"NetworkInterfaceId": n.eni, "PrivateIp": n.private_ip, "IsPrimary": True,
                "Status": {"pending": "associating", "available": "succeeded", "failed": "failed",
                           "deleting": "disassociating", "deleted": "succeeded"}[n.state]}
        if n.allocation_id:
            addr.update(AllocationId=n.allocation_id, PublicIp=n.public_ip,
                        AssociationId=f"eipassoc-{n.id[4:21]}")
        out = {"NatGatewayId": n.id, "SubnetId": n.subnet_id, "VpcId": n.vpc_id, "State": n.state,
               "CreateTime": n.created, "ConnectivityType": n.connectivity, "NatGatewayAddresses": [addr],
               "Tags": _tags_out(n.tags)}
        if n.deleted is not None:
            out["DeleteTime"] = n.deleted
        if n.failure:
            out["FailureCode"], out["FailureMessage"] = n.failure
        return out

    def create_nat_gateway(self, p: dict, call) -> dict:
        self._dry(p)
        s = self.subnet(p["SubnetId"])
        kind = p.get("ConnectivityType", "public")
        a = None
        if kind == "public":
            if not p.get("AllocationId"):
                raise _err("MissingParameter", "The request must contain the parameter AllocationId")
            a = self.address(p["AllocationId"])
            if a.association_id:
                raise _err("Resource.AlreadyAssociated",
                           f"Elastic IP address [{a.allocation_id}] is already associated")
        elif p.get("AllocationId"):
            raise _err("InvalidParameterCombination", "AllocationId cannot be specified for a private NAT gateway")
        nid = self._id("nat")
        n = NatGateway(nid, s.id, s.vpc_id, kind, a.allocation_id if a else None, a.public_ip if a else None,
                       self._take_ip(s), self._id("eni"), self.world.clock.now, tags=self._tag_spec(p, "natgateway"))
        if a:
            a.nat_gateway_id, a.association_id, a.eni, a.private_ip = nid, f"eipassoc-{nid[4:21]}", n.eni, n.private_ip
        self.nat_gateways[nid] = n
        fails = kind == "public" and self.attached_igw(s.vpc_id) is None
        if fails:  # AWS fails a public NAT gateway whose VPC has no internet gateway, and does not bill it
            n.failure = ("Gateway.NotAttached", f"Network {s.vpc_id} has no Internet gateway attached")
        else:
            price = unit_price("nat-gateway-hour").usd
            n.meter = self.world.ledger.start_meter(self.nat_arn(nid), "ec2", "nat-gateway-hours", price, "on-demand",
                                                    description=f"NAT gateway {nid} in {s.id}", unit="gateway-second")
        self.world.event(self.nat_arn(nid), "status", f"NAT gateway {nid} is pending", "pending")
        self._after(NAT_PENDING_SECONDS, n)
        return {"NatGateway": self._nat_view(n), **({"ClientToken": p["ClientToken"]} if p.get("ClientToken") else {})}

    def _after(self, seconds: float, obj) -> None:
        """Schedule ``obj``'s pending/deleting state to end ``seconds`` from now (a transition SimPy runs)."""
        obj.due = self.world.clock.seconds + seconds

        def transition():
            yield self.world.clock.env.timeout(seconds)
            self.settle()

        self.world.clock.start(transition())

    def settle(self) -> None:
        """End every transition that is due by now, so states follow the clock at its exact instants."""
        now = self.world.clock.seconds
        for n in self.nat_gateways.values():
            if n.due is None or n.due > now:
                continue
            at, n.due = n.due, None
            if n.state == "pending" and n.failure:
                n.state = "failed"
                self._release_nat_address(n)
                self.world.event(self.nat_arn(n.id), "status", f"NAT gateway {n.id} failed: {n.failure[1]}",
                                 "failed", seconds=at)
            elif n.state == "pending":
                n.state = "available"
                self.world.event(self.nat_arn(n.id), "status", f"NAT gateway {n.id} is available", "available",
                                 seconds=at)
            elif n.state == "deleting":
                n.state = "deleted"
                n.deleted = self.world.clock.at(at)
                self._release_nat_address(n)
                self.world.event(self.nat_arn(n.id), "status", f"NAT gateway {n.id} is deleted", "deleted",
                                 seconds=at)
        for e in self.endpoints.values():
            if e.due is not None and e.due <= now:
                at, e.due = e.due, None
                if e.state == "pending":
                    e.state = "available"
                    self.world.event(self.endpoint_arn(e.id), "status", f"VPC endpoint {e.id} is available",
                                     "available", seconds=at)

    def _release_nat_address(self, n: NatGateway) -> None:
        a = self.addresses.get(n.allocation_id or "")
        if a is not None and a.nat_gateway_id == n.id:
            a.nat_gateway_id = a.association_id = a.eni = a.private_ip = None
        s = self.subnets.get(n.subnet_id)
        if s is not None and s.used_ips:
            s.used_ips -= 1

    def describe_nat_gateways(self, p: dict, call) -> dict:
        self.settle()
        nats = self._pick(self.nat_gateways, p.get("NatGatewayIds"), self.nat_gateway)
        nats = self._filter(nats, p.get("Filter") or p.get("Filters"), {
            "nat-gateway-id": lambda n: n.id, "state": lambda n: n.state, "subnet-id": lambda n: n.subnet_id,
            "vpc-id": lambda n: n.vpc_id})
        return {"NatGateways": [self._nat_view(n) for n in nats]}

    def delete_nat_gateway(self, p: dict, call) -> dict:
        self._dry(p)
        self.settle()
        n = self.nat_gateway(p["NatGatewayId"])
        if n.state in ("deleting", "deleted"):
            return {"NatGatewayId": n.id}
        if n.meter is not None:
            self.world.ledger.stop_meter(n.meter)
            n.meter = None
        n.state = "deleting"
        self.world.event(self.nat_arn(n.id), "status", f"NAT gateway {n.id} is deleting", "deleting")
        self._after(NAT_DELETING_SECONDS, n)
        return {"NatGatewayId": n.id}

    # ============================================================================ VPC endpoints
    def endpoint_arn(self, eid: str) -> str:
        return self._arn("vpc-endpoint", eid)

    def _endpoint_view(self, e: VpcEndpoint) -> dict:
        out = {"VpcEndpointId": e.id, "VpcEndpointType": e.type, "VpcId": e.vpc_id, "ServiceName": e.service_name,
               "State": e.state, "PolicyDocument": e.policy, "RouteTableIds": list(e.route_table_ids),
               "SubnetIds": list(e.subnet_ids),
               "Groups": [{"GroupId": g, "GroupName": self.groups[g].name} for g in e.group_ids if g in self.groups],
               "PrivateDnsEnabled": e.private_dns, "RequesterManaged": False,
               "NetworkInterfaceIds": [e.enis[s] for s in e.subnet_ids if s in e.enis],
               "DnsEntries": [], "CreationTimestamp": e.created, "OwnerId": self.world.account,
               "Tags": _tags_out(e.tags)}
        if e.type == "Interface":
            out["IpAddressType"] = "ipv4"
            out["DnsOptions"] = {"DnsRecordIpType": "ipv4", "PrivateDnsOnlyForInboundResolverEndpoint": False}
            entries = [{"DnsName": name, "HostedZoneId": VPCE_HOSTED_ZONE} for name in e.dns_names]
            label = dns_label(e.service)
            for sid in e.subnet_ids:
                az = self.subnets[sid].az if sid in self.subnets else AZS[0]
                entries.append({"DnsName": f"{e.id}-{e.dns_suffix}-{az}.{label}.us-east-1.vpce.amazonaws.com",
                                "HostedZoneId": VPCE_HOSTED_ZONE})
            if e.private_dns:
                zone = "Z" + self._hash(e.id).hex()[:20].upper()
                entries.append({"DnsName": private_dns_name(e.service), "HostedZoneId": zone})
            out["DnsEntries"] = entries
        return out

    def _short_service(self, name: str) -> str:
        short = name[len(SERVICE_PREFIX):] if name.startswith(SERVICE_PREFIX) else None
        if short not in ENDPOINT_SERVICES:
            raise _err("InvalidServiceName", f"The Vpc Endpoint Service '{name}' does not exist")
        return short

    def _check_private_dns(self, vpc: Vpc, short: str, exclude: str | None = None) -> None:
        if not (vpc.dns_support and vpc.dns_hostnames):
            raise _err("InvalidParameter", "Enabling private DNS requires both enableDnsSupport and "
                                           f"enableDnsHostnames VPC attributes set to true for {vpc.id}")
        for other in self.endpoints.values():
            if (other.vpc_id == vpc.id and other.id != exclude and other.service == short and other.private_dns):
                raise _err("InvalidParameter",
                           "private-dns-enabled cannot be set because there is already a conflicting DNS domain "
                           f"for {private_dns_name(short)} in the VPC {vpc.id}")

    def _add_gateway_routes(self, e: VpcEndpoint, rtb_ids: list[str]) -> None:
        pl = S3_PREFIX_LIST if e.service == "s3" else DYNAMODB_PREFIX_LIST
        tables = [self.route_table(r) for r in rtb_ids]
        for rt in tables:
            if rt.vpc_id != e.vpc_id:
                raise _err("InvalidParameter", f"Route table {rt.id} does not belong to {e.vpc_id}")
            if any(r.destination == pl for r in rt.routes):
                raise _err("RouteAlreadyExists",
                           f"route table {rt.id} already has a route with destination-prefix-list-id {pl}")
        for rt in tables:
            rt.routes.append(RouteEntry(pl, e.id, "CreateRoute"))
            e.route_table_ids.append(rt.id)

    def _remove_gateway_routes(self, e: VpcEndpoint, rtb_ids: list[str]) -> None:
        for rid in rtb_ids:
            rt = self.route_tables.get(rid)
            if rt is not None:
                rt.routes = [r for r in rt.routes if r.target != e.id]
            if rid in e.route_table_ids:
                e.route_table_ids.remove(rid)

    def _check_subnets(self, e: VpcEndpoint, add: list[str]) -> list[Subnet]:
        subnets = [self.subnet(s) for s in dict.fromkeys(add)]
        azs = {self.subnets[s].az: s for s in e.subnet_ids if s in self.subnets}
        for s in subnets:
            if s.vpc_id != e.vpc_id:
                raise _err("InvalidParameter", f"The subnet ID '{s.id}' does not belong to the VPC {e.vpc_id}")
            if s.az in azs and azs[s.az] != s.id:
                raise _err("DuplicateSubnetsInSameZone",
                           f"Found another VPC endpoint subnet in the availability zone of {s.id}. VPC endpoint "
                           "subnets should be in different availability zones supported by the VPC endpoint service.")
            azs[s.az] = s.id
        return subnets

    def _add_subnets(self, e: VpcEndpoint, subnets: list[Subnet]) -> None:
        for s in subnets:
            if s.id not in e.subnet_ids:
                e.subnet_ids.append(s.id)
                e.enis[s.id] = self._id("eni")
                self._take_ip(s)

    def _remeter(self, e: VpcEndpoint) -> None:
        """Interface endpoints bill one endpoint-hour per subnet (AZ); restart the meter when that count changes."""
        if e.meter is not None:
            self.world.ledger.stop_meter(e.meter)
            e.meter = None
        if e.type == "Interface" and e.subnet_ids and e.state != "deleted":
            e.meter = self.world.ledger.start_meter(
                self.endpoint_arn(e.id), "ec2", "vpc-endpoint-hours", unit_price("vpc-interface-endpoint-hour").usd,
                "on-demand", instance_count=len(e.subnet_ids), unit="endpoint-AZ-second",
                description=f"interface endpoint {e.id} ({e.service_name}) in {len(e.subnet_ids)} AZ(s)")

    def _check_groups(self, vpc_id: str, gids: list[str]) -> list[str]:
        for gid in gids:
            if self.group(gid).vpc_id != vpc_id:
                raise _err("InvalidParameter", f"The security group '{gid}' does not belong to the VPC {vpc_id}")
        return list(dict.fromkeys(gids))

    def _check_policy(self, doc: str) -> str:
        try:
            json.loads(doc)
        except ValueError:
            raise _err("MalformedPolicyDocument", "The policy document is not valid JSON") from None
        return doc

    def create_vpc_endpoint(self, p: dict, call) -> dict:
        self._dry(p)
        vpc = self.vpc(p["VpcId"])
        short = self._short_service(p["ServiceName"])
        kind = p.get("VpcEndpointType", "Gateway")
        if kind not in ENDPOINT_SERVICES[short]:
            raise _err("InvalidParameter", f"Endpoint type ({kind}) does not match available service types "
                                           f"([{', '.join(ENDPOINT_SERVICES[short])}]).")
        eid = self._id("vpce")
        suffix = self._hash(eid + "dns").hex()[:8]
        policy = self._check_policy(p["PolicyDocument"]) if p.get("PolicyDocument") else DEFAULT_ENDPOINT_POLICY
        pending = kind == "Interface" and ENDPOINT_PENDING_SECONDS > 0
        e = VpcEndpoint(eid, kind, vpc.id, short, self.world.clock.now, "pending" if pending else "available",
                        policy, suffix,
                        tags=self._tag_spec(p, "vpc-endpoint"))
        if kind == "Gateway":
            if p.get("SubnetIds") or p.get("SecurityGroupIds"):
                raise _err("InvalidParameter", "Gateway endpoints take RouteTableIds, not SubnetIds or "
                                               "SecurityGroupIds")
            self._add_gateway_routes(e, list(dict.fromkeys(p.get("RouteTableIds") or [])))
        else:
            if p.get("RouteTableIds"):
                raise _err("InvalidParameter", "Interface endpoints take SubnetIds, not RouteTableIds")
            subnets = self._check_subnets(e, p.get("SubnetIds") or [])
            e.group_ids = self._check_groups(vpc.id, p.get("SecurityGroupIds") or [vpc.default_sg])
            e.private_dns = p.get("PrivateDnsEnabled", True)
            if e.private_dns:
                self._check_private_dns(vpc, short)
            self._add_subnets(e, subnets)
        self.endpoints[eid] = e
        self._remeter(e)
        self.world.event(self.endpoint_arn(eid), "status", f"VPC endpoint {eid} ({e.service_name}) is {e.state}",
                         e.state)
        if pending:
            self._after(ENDPOINT_PENDING_SECONDS, e)
        view = self._endpoint_view(e)
        if kind == "Interface":
            view["State"] = "pending"  # as AWS answers CreateVpcEndpoint for an interface endpoint
        return {"VpcEndpoint": view,
                **({"ClientToken": p["ClientToken"]} if p.get("ClientToken") else {})}

    def describe_vpc_endpoints(self, p: dict, call) -> dict:
        self.settle()
        eps = self._pick(self.endpoints, p.get("VpcEndpointIds"), self.endpoint)
        eps = self._filter(eps, p.get("Filters"), {
            "vpc-endpoint-id": lambda e: e.id, "vpc-id": lambda e: e.vpc_id, "service-name": lambda e: e.service_name,
            "vpc-endpoint-type": lambda e: e.type, "vpc-endpoint-state": lambda e: e.state,
            "state": lambda e: e.state})
        return {"VpcEndpoints": [self._endpoint_view(e) for e in eps]}

    def delete_vpc_endpoints(self, p: dict, call) -> dict:
        self._dry(p)
        self.settle()
        unsuccessful = []
        for eid in p["VpcEndpointIds"]:
            e = self.endpoints.get(eid)
            if e is None:
                unsuccessful.append({"ResourceId": eid, "Error": {
                    "Code": "InvalidVpcEndpoint.NotFound", "Message": f"The VpcEndpoint Id '{eid}' does not exist"}})
                continue
            self._remove_gateway_routes(e, list(e.route_table_ids))
            for sid in e.subnet_ids:
                s = self.subnets.get(sid)
                if s is not None and s.used_ips:
                    s.used_ips -= 1
            e.state = "deleted"
            self._remeter(e)
            del self.endpoints[eid]
            self.world.event(self.endpoint_arn(eid), "status", f"VPC endpoint {eid} is deleted", "deleted")
        return {"Unsuccessful": unsuccessful}

    def modify_vpc_endpoint(self, p: dict, call) -> dict:
        self._dry(p)
        self.settle()
        e = self.endpoint(p["VpcEndpointId"])
        vpc = self.vpcs[e.vpc_id]
        if p.get("ResetPolicy"):
            e.policy = DEFAULT_ENDPOINT_POLICY
        elif p.get("PolicyDocument"):
            e.policy = self._check_policy(p["PolicyDocument"])
        if e.type == "Gateway":
            if p.get("AddSubnetIds") or p.get("AddSecurityGroupIds"):
                raise _err("InvalidParameter", "Gateway endpoints take RouteTableIds, not SubnetIds or "
                                               "SecurityGroupIds")
            self._remove_gateway_routes(e, [self.route_table(r).id for r in p.get("RemoveRouteTableIds") or []])
            self._add_gateway_routes(e, [r for r in dict.fromkeys(p.get("AddRouteTableIds") or [])
                                         if r not in e.route_table_ids])
            return {"Return": True}
        if p.get("AddRouteTableIds") or p.get("RemoveRouteTableIds"):
            raise _err("InvalidParameter", "Interface endpoints take SubnetIds, not RouteTableIds")
        if "PrivateDnsEnabled" in p:
            if p["PrivateDnsEnabled"] and not e.private_dns:
                self._check_private_dns(vpc, e.service, exclude=e.id)
            e.private_dns = bool(p["PrivateDnsEnabled"])
        removed = [self.subnet(s).id for s in p.get("RemoveSubnetIds") or []]
        added = p.get("AddSubnetIds") or []
        if removed or added:
            for sid in removed:
                if sid in e.subnet_ids:
                    e.subnet_ids.remove(sid)
                    e.enis.pop(sid, None)
                    self.subnets[sid].used_ips -= 1
            self._add_subnets(e, self._check_subnets(e, added))
            self._remeter(e)
        e.group_ids += [g for g in self._check_groups(e.vpc_id, p.get("AddSecurityGroupIds") or [])
                        if g not in e.group_ids]
        e.group_ids = [g for g in e.group_ids if g not in set(p.get("RemoveSecurityGroupIds") or [])]
        return {"Return": True}

    def describe_vpc_endpoint_services(self, p: dict, call) -> dict:
        names = [SERVICE_PREFIX + s for s in ENDPOINT_SERVICES]
        if p.get("ServiceNames"):
            for n in p["ServiceNames"]:
                self._short_service(n)
            names = [n for n in names if n in p["ServiceNames"]]
        details = []
        for name in names:
            short = name[len(SERVICE_PREFIX):]
            for kind in ENDPOINT_SERVICES[short]:
                d = {"ServiceName": name, "ServiceId": "vpce-svc-" + self._hash(name + kind).hex()[:17],
                     "ServiceType": [{"ServiceType": kind}], "ServiceRegion": "us-east-1",
                     "AvailabilityZones": list(AZS), "Owner": "amazon",
                     "BaseEndpointDnsNames": [f"{dns_label(short)}.us-east-1.vpce.amazonaws.com"]
                     if kind == "Interface" else [f"{short}.us-east-1.amazonaws.com"],
                     "VpcEndpointPolicySupported": True, "AcceptanceRequired": False,
                     "ManagesVpcEndpoints": False, "SupportedIpAddressTypes": ["ipv4"], "Tags": []}
                if kind == "Interface":
                    d["PrivateDnsName"] = private_dns_name(short)
                    d["PrivateDnsNames"] = [{"PrivateDnsName": private_dns_name(short)}]
                    d["PrivateDnsNameVerificationState"] = "verified"
                details.append(d)

        class D:  # filter adaptor
            def __init__(self, d):
                self.d, self.tags = d, {}

        kept = self._filter([D(d) for d in details], p.get("Filters"), {
            "service-name": lambda x: x.d["ServiceName"],
            "service-type": lambda x: x.d["ServiceType"][0]["ServiceType"]})
        return {"ServiceNames": list(dict.fromkeys(x.d["ServiceName"] for x in kept)),
                "ServiceDetails": [x.d for x in kept]}

    def describe_prefix_lists(self, p: dict, call) -> dict:
        ids = p.get("PrefixListIds") or list(PREFIX_LISTS)
        for i in ids:
            if i not in PREFIX_LISTS:
                raise _err("InvalidPrefixListID.NotFound", f"The prefix list ID '{i}' does not exist")
        out = [{"PrefixListId": i, "PrefixListName": PREFIX_LISTS[i][0], "Cidrs": list(PREFIX_LISTS[i][1])}
               for i in ids]
        for f in p.get("Filters") or []:
            key = {"prefix-list-id": "PrefixListId", "prefix-list-name": "PrefixListName"}.get(f["Name"])
            if key is None:
                raise _err("InvalidParameterValue", f"The filter '{f['Name']}' is invalid")
            out = [o for o in out if any(fnmatch.fnmatchcase(o[key], v) for v in f.get("Values", []))]
        return {"PrefixLists": out}

    # ============================================================================ tags
    def _taggable(self, rid: str):
        tables = {"vpc-": (self.vpcs, self.vpc), "subnet-": (self.subnets, self.subnet),
                  "sg-": (self.groups, self.group), "rtb-": (self.route_tables, self.route_table),
                  "igw-": (self.igws, self.igw), "eipalloc-": (self.addresses, self.address),
                  "nat-": (self.nat_gateways, self.nat_gateway), "vpce-": (self.endpoints, self.endpoint)}
        for prefix, (_, lookup) in tables.items():
            if rid.startswith(prefix):
                return lookup(rid)
        raise _err("InvalidID", f'The ID "{rid}" is not valid')

    def create_tags(self, p: dict, call) -> dict:
        self._dry(p)
        things = [self._taggable(r) for r in p["Resources"]]
        for t in things:
            t.tags.update({tag["Key"]: tag.get("Value", "") for tag in p["Tags"]})
        return {}

    def delete_tags(self, p: dict, call) -> dict:
        self._dry(p)
        things = [self._taggable(r) for r in p["Resources"]]
        for t in things:
            if "Tags" not in p:
                t.tags.clear()
                continue
            for tag in p["Tags"]:
                if tag["Key"] in t.tags and ("Value" not in tag or t.tags[tag["Key"]] == tag["Value"]):
                    del t.tags[tag["Key"]]
        return {}

    def describe_tags(self, p: dict, call) -> dict:
        kinds = (("vpc", self.vpcs), ("subnet", self.subnets), ("security-group", self.groups),
                 ("route-table", self.route_tables), ("internet-gateway", self.igws),
                 ("elastic-ip", self.addresses), ("natgateway", self.nat_gateways), ("vpc-endpoint", self.endpoints))
        rows = []
        for kind, table in kinds:
            for rid, thing in table.items():
                rows += [{"ResourceId": rid, "ResourceType": kind, "Key": k, "Value": v} for k, v in thing.tags.items()]
        for f in p.get("Filters") or []:
            key = {"resource-id": "ResourceId", "resource-type": "ResourceType", "key": "Key",
                   "value": "Value"}.get(f["Name"])
            if key is None:
                raise _err("InvalidParameterValue", f"The filter '{f['Name']}' is invalid")
            rows = [r for r in rows if any(fnmatch.fnmatchcase(r[key], v) for v in f.get("Values", []))]
        return {"Tags": rows}

