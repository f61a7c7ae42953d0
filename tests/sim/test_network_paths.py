"""engine.network: which path a placement's traffic takes, why, what IAM context it carries, and what it costs."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine import network
from engine.security import NAT, NONE, PUBLIC_INTERNET, VPC_ENDPOINT
from engine.services import ec2 as ec2_service

S3 = "com.amazonaws.us-east-1.s3"
RUNTIME = "com.amazonaws.us-east-1.sagemaker.runtime"
JOB = "arn:aws:sagemaker:us-east-1:123456789012:training-job/job-1"
GIB = 1024 ** 3


class Lab:
    """A VPC with DNS hostnames on, a private subnet (main route table: local only) and a job security group."""

    def __init__(self, eng):
        self.eng = eng
        self.ec2 = eng.client("ec2")
        self.backend = eng._world.services["ec2"]
        c = self.ec2
        self.vpc = c.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        c.modify_vpc_attribute(VpcId=self.vpc, EnableDnsHostnames={"Value": True})
        self.private = c.create_subnet(VpcId=self.vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
        self.sg = c.create_security_group(GroupName="job", Description="job", VpcId=self.vpc)["GroupId"]
        self.main_rtb = c.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [self.vpc]}])[
            "RouteTables"][0]["RouteTableId"]
        self.placement = network.place(self.backend, [self.private], [self.sg])

    def route(self, service: str, **kw) -> network.Route:
        return network.route(self.backend, self.placement, service, **kw)

    def s3_gateway(self) -> str:
        return self.ec2.create_vpc_endpoint(VpcEndpointType="Gateway", VpcId=self.vpc, ServiceName=S3,
                                            RouteTableIds=[self.main_rtb])["VpcEndpoint"]["VpcEndpointId"]

    def public_subnet(self) -> tuple[str, str]:
        """A subnet with its own route table sending 0.0.0.0/0 to an attached internet gateway."""
        c = self.ec2
        subnet = c.create_subnet(VpcId=self.vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
        igw = c.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        c.attach_internet_gateway(InternetGatewayId=igw, VpcId=self.vpc)
        rtb = c.create_route_table(VpcId=self.vpc)["RouteTable"]["RouteTableId"]
        c.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
        c.associate_route_table(RouteTableId=rtb, SubnetId=subnet)
        return subnet, igw

    def nat(self) -> tuple[str, str]:
        """A NAT gateway in the public subnet, available, and the private subnet's 0.0.0.0/0 route to it."""
        public, _ = self.public_subnet()
        eip = self.ec2.allocate_address(Domain="vpc")
        nid = self.ec2.create_nat_gateway(SubnetId=public, AllocationId=eip["AllocationId"])["NatGateway"][
            "NatGatewayId"]
        self.ec2.create_route(RouteTableId=self.main_rtb, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nid)
        self.eng.advance(90)
        return nid, eip["PublicIp"]

    def interface(self, service: str = RUNTIME, groups: list[str] | None = None) -> str:
        kw = {"SecurityGroupIds": groups} if groups else {}
        eid = self.ec2.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=self.vpc, ServiceName=service,
                                           SubnetIds=[self.private], **kw)["VpcEndpoint"]["VpcEndpointId"]
        self.eng.advance(60)
        return eid


@pytest.fixture
def lab(eng) -> Lab:
    return Lab(eng)


# ----------------------------------------------------------------------------- placement


def test_place_checks_subnets_and_groups_with_sagemaker_sentences(lab):
    other_vpc = lab.ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    other = lab.ec2.create_subnet(VpcId=other_vpc, CidrBlock="10.1.0.0/24")["Subnet"]["SubnetId"]
    other_sg = lab.ec2.create_security_group(GroupName="x", Description="x", VpcId=other_vpc)["GroupId"]
    cases = [([("subnet-0nope")], [lab.sg], "The subnet ID 'subnet-0nope' does not exist"),
             ([lab.private, other], [lab.sg], f"Subnets [{lab.private}, {other}] are not in the same VPC"),
             ([lab.private], ["sg-0nope"], "The security group 'sg-0nope' does not exist"),
             ([lab.private], [other_sg], f"Security group {other_sg} and subnet {lab.private} belong to different "
                                         "VPCs")]
    for subnets, groups, message in cases:
        with pytest.raises(network.PlacementError) as e:
            network.place(lab.backend, subnets, groups)
        assert str(e.value) == message
    assert lab.placement == network.Placement(lab.vpc, (lab.private,), (lab.sg,))


def test_no_vpc_config_means_sagemakers_network_with_internet(lab):
    r = network.route(lab.backend, None, "s3")
    assert (r.path, r.via) == (PUBLIC_INTERNET, None)
    assert r.reason == "no VpcConfig: SageMaker's network, with internet access"


# ----------------------------------------------------------------------------- private subnets


def test_private_subnet_without_routes_reaches_nothing(lab):
    r = lab.route("s3")
    assert (r.path, r.via, r.context) == (NONE, None, {})
    assert r.reason.startswith("no route to s3: add a VPC endpoint or a NAT gateway")
    assert lab.private in r.reason and lab.main_rtb in r.reason
    assert lab.route("internet").reason.startswith("no route to the internet: add a NAT gateway")


def test_s3_gateway_endpoint_serves_s3_only(lab):
    eid = lab.s3_gateway()
    r = lab.route("s3")
    assert (r.path, r.via) == (VPC_ENDPOINT, eid)
    assert r.context == {"aws:SourceVpce": eid, "aws:SourceVpc": lab.vpc}
    assert lab.route("sagemaker.runtime").path == NONE
    assert lab.route("internet").path == NONE


def test_s3_gateway_endpoint_on_another_route_table_is_named_in_the_reason(lab):
    other = lab.ec2.create_route_table(VpcId=lab.vpc)["RouteTable"]["RouteTableId"]
    eid = lab.ec2.create_vpc_endpoint(VpcEndpointType="Gateway", VpcId=lab.vpc, ServiceName=S3,
                                      RouteTableIds=[other])["VpcEndpoint"]["VpcEndpointId"]
    r = lab.route("s3")
    assert r.path == NONE
    assert f"S3 gateway endpoint {eid} is in the VPC but not associated with route table {lab.main_rtb}" in r.reason
    lab.ec2.modify_vpc_endpoint(VpcEndpointId=eid, AddRouteTableIds=[lab.main_rtb])
    assert lab.route("s3").via == eid


def test_s3_gateway_endpoint_is_unusable_when_the_groups_block_outbound_443(lab):
    lab.s3_gateway()
    lab.ec2.revoke_security_group_egress(GroupId=lab.sg, IpPermissions=[
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    r = lab.route("s3")
    assert r.path == NONE and f"security group(s) {lab.sg} do not allow outbound TCP 443" in r.reason
    lab.ec2.authorize_security_group_egress(GroupId=lab.sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "PrefixListIds": [{"PrefixListId": "pl-63a5400a"}]}])
    assert lab.route("s3").path == VPC_ENDPOINT


def test_nat_gateway_carries_internet_and_aws_traffic_from_a_private_subnet(lab):
    nid, public_ip = lab.nat()
    r = lab.route("internet")
    assert (r.path, r.via, r.context) == (NAT, nid, {"aws:SourceIp": public_ip})
    assert lab.route("sagemaker.runtime").path == NAT
    assert lab.route("s3").path == NAT  # no gateway endpoint: S3 traffic pays NAT processing


def test_pending_nat_gateway_is_not_a_route_yet(lab):
    public, _ = lab.public_subnet()
    alloc = lab.ec2.allocate_address(Domain="vpc")["AllocationId"]
    nid = lab.ec2.create_nat_gateway(SubnetId=public, AllocationId=alloc)["NatGateway"]["NatGatewayId"]
    lab.ec2.create_route(RouteTableId=lab.main_rtb, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nid)
    r = lab.route("internet")
    assert r.path == NONE and f"NAT gateway {nid}, which is pending" in r.reason
    lab.eng.advance(90)
    assert lab.route("internet").path == NAT


def test_nat_gateway_in_a_private_subnet_does_not_reach_the_internet(lab):
    public, igw = lab.public_subnet()
    alloc = lab.ec2.allocate_address(Domain="vpc")["AllocationId"]
    other = lab.ec2.create_subnet(VpcId=lab.vpc, CidrBlock="10.0.2.0/24")["Subnet"]["SubnetId"]
    nid = lab.ec2.create_nat_gateway(SubnetId=other, AllocationId=alloc)["NatGateway"]["NatGatewayId"]
    lab.eng.advance(90)
    rtb = lab.ec2.create_route_table(VpcId=lab.vpc)["RouteTable"]["RouteTableId"]
    lab.ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nid)
    lab.ec2.associate_route_table(RouteTableId=rtb, SubnetId=lab.private)
    r = lab.route("internet")
    assert r.path == NONE and "put the NAT gateway in a public subnet" in r.reason


# ----------------------------------------------------------------------------- public subnets


def test_public_subnet_without_a_public_ip_has_no_internet(lab):
    public, igw = lab.public_subnet()
    placement = network.place(lab.backend, [public], [lab.sg])
    r = network.route(lab.backend, placement, "internet")
    assert r.path == NONE
    assert r.reason.startswith("the subnet routes to an internet gateway but SageMaker's network interfaces have no "
                               "public IP address; use a private subnet with a NAT gateway or VPC endpoints")
    r = network.route(lab.backend, placement, "internet", public_ip=True)
    assert (r.path, r.via) == (PUBLIC_INTERNET, igw) and r.context["aws:SourceIp"].split(".")[0] in ("3", "54")


def test_first_subnet_with_a_path_wins_and_is_named(lab):
    nid, _ = lab.nat()
    public = lab.ec2.describe_subnets(Filters=[{"Name": "cidr-block", "Values": ["10.0.0.0/24"]}])["Subnets"][0]
    placement = network.place(lab.backend, [public["SubnetId"], lab.private], [lab.sg])
    r = network.route(lab.backend, placement, "internet")
    assert (r.path, r.via) == (NAT, nid) and f"subnet {lab.private}" in r.reason


# ----------------------------------------------------------------------------- interface endpoints


def test_interface_endpoint_with_the_default_group_serves_its_service(lab):
    eid = lab.interface()  # the VPC's default group admits all traffic from itself ...
    default_sg = lab.backend.vpcs[lab.vpc].default_sg
    placement = network.place(lab.backend, [lab.private], [default_sg])  # ... so a member reaches it
    r = network.route(lab.backend, placement, "sagemaker.runtime")
    assert (r.path, r.via) == (VPC_ENDPOINT, eid)
    assert r.context == {"aws:SourceVpce": eid, "aws:SourceVpc": lab.vpc}
    assert network.route(lab.backend, placement, "sagemaker.api").path == NONE


def test_interface_endpoint_whose_group_blocks_443_gives_no_route_naming_it(lab):
    eid = lab.interface()  # default group: the job's own group "job" is not a member
    r = lab.route("sagemaker.runtime")
    default_sg = lab.backend.vpcs[lab.vpc].default_sg
    assert r.path == NONE
    assert f"interface endpoint {eid} for sagemaker.runtime" in r.reason and default_sg in r.reason
    assert "inbound TCP 443" in r.reason
    lab.ec2.authorize_security_group_ingress(GroupId=default_sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "UserIdGroupPairs": [{"GroupId": lab.sg}]}])
    assert lab.route("sagemaker.runtime").path == VPC_ENDPOINT


def test_interface_endpoint_admitting_the_subnet_cidr_is_reachable(lab):
    ep_sg = lab.ec2.create_security_group(GroupName="endpoints", Description="e", VpcId=lab.vpc)["GroupId"]
    lab.ec2.authorize_security_group_ingress(GroupId=ep_sg, IpProtocol="tcp", FromPort=443, ToPort=443,
                                             CidrIp="10.0.0.0/16")
    eid = lab.interface("com.amazonaws.us-east-1.sts", groups=[ep_sg])
    assert lab.route("sts").via == eid


def test_pending_interface_endpoint_is_not_used(lab, monkeypatch):
    monkeypatch.setattr(ec2_service, "ENDPOINT_PENDING_SECONDS", 60)  # AWS's minute, when a scenario wants it
    lab.ec2.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=lab.vpc, ServiceName=RUNTIME,
                                SubnetIds=[lab.private])
    r = lab.route("sagemaker.runtime")
    assert r.path == NONE and "is pending" in r.reason
    lab.eng.advance(60)
    default_sg = lab.backend.vpcs[lab.vpc].default_sg
    placement = network.place(lab.backend, [lab.private], [default_sg])
    assert network.route(lab.backend, placement, "sagemaker.runtime").path == VPC_ENDPOINT


# ----------------------------------------------------------------------------- carry: records and bills


def test_carry_through_nat_records_the_transfer_and_bills_hours_and_gigabytes(lab):
    nid, _ = lab.nat()
    world = lab.eng._world
    r = network.carry(world, resource=JOB, service="s3", purpose="input data", placement=lab.placement, nbytes=GIB)
    network.carry(world, resource=JOB, service="s3", purpose="output", placement=lab.placement, nbytes=GIB // 2)
    assert (r.path, r.via) == (NAT, nid)
    [t1, t2] = lab.eng.security().transfers_of("training-job/job-1")
    assert (t1.path, t1.via, t1.bytes, t1.purpose) == (NAT, nid, GIB, "input data") and t2.bytes == GIB // 2
    lab.eng.advance(3600 - 90)  # one hour since the NAT gateway was created
    lines = {li.usage_type: li for li in lab.eng.bill().for_resource(f"natgateway/{nid}")}
    assert lines["nat-gateway-hours"].amount == Decimal("0.045000")
    data = lines["nat-gateway-data-processed"]
    assert (data.quantity, data.unit, data.amount) == (Decimal("1.5"), "GB", Decimal("0.067500"))


def test_carry_through_an_interface_endpoint_bills_endpoint_processing(lab):
    eid = lab.interface(groups=None)
    default_sg = lab.backend.vpcs[lab.vpc].default_sg
    placement = network.place(lab.backend, [lab.private], [default_sg])
    network.carry(lab.eng._world, resource=JOB, service="sagemaker.runtime", purpose="invoke", placement=placement,
                  nbytes=2 * GIB)
    [li] = [li for li in lab.eng.bill().for_resource(f"vpc-endpoint/{eid}")
            if li.usage_type == "vpc-endpoint-data-processed"]
    assert (li.service, li.quantity, li.amount) == ("ec2", Decimal(2), Decimal("0.020000"))


def test_carry_through_a_gateway_endpoint_is_free_and_isolation_blocks_outbound_calls(lab):
    eid = lab.s3_gateway()
    world = lab.eng._world
    r = network.carry(world, resource=JOB, service="s3", purpose="input data", placement=lab.placement, nbytes=GIB)
    assert r.via == eid and lab.eng.bill().for_resource(eid) == []
    r = network.carry(world, resource=JOB, service="internet", purpose="outbound call", placement=None, nbytes=10,
                      isolated=True)
    assert (r.path, r.reason) == (NONE, "network isolation: the container cannot make outbound calls")
    assert lab.eng.security().transfers[-1].path == NONE


# ----------------------------------------------------------------------------- API callers


def test_caller_route_by_endpoint_url_subnet_or_from_outside(lab):
    eid = lab.interface()
    dns = lab.ec2.describe_vpc_endpoints(VpcEndpointIds=[eid])["VpcEndpoints"][0]["DnsEntries"][0]["DnsName"]
    r = network.caller_route(lab.backend, service="sagemaker.runtime", endpoint_url=f"https://{dns}")
    assert (r.path, r.via, r.context) == (VPC_ENDPOINT, eid, {"aws:SourceVpce": eid, "aws:SourceVpc": lab.vpc})
    r = network.caller_route(lab.backend, service="sts", endpoint_url=f"https://{dns}")
    assert r.path == NONE and "not sts" in r.reason
    r = network.caller_route(lab.backend, service="sagemaker.runtime",
                             endpoint_url="https://vpce-0123456789abcdef0-abcd1234.runtime.sagemaker.us-east-1"
                                          ".vpce.amazonaws.com")
    assert r.path == NONE and "does not exist" in r.reason
    r = network.caller_route(lab.backend, service="sagemaker.runtime", subnet=lab.private)
    assert (r.path, r.via) == (VPC_ENDPOINT, eid)  # the default group admits itself
    r = network.caller_route(lab.backend, service="sagemaker.runtime")
    assert (r.path, r.reason, r.context) == (PUBLIC_INTERNET, "a caller outside any VPC",
                                             {"aws:SourceIp": "203.0.113.10"})


def test_caller_in_a_default_subnet_uses_its_public_ip_through_the_igw(lab):
    default = lab.ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"][0]
    r = network.caller_route(lab.backend, service="sts", subnet=default["SubnetId"])
    assert r.path == PUBLIC_INTERNET and r.via.startswith("igw-")
