"""EC2 networking through the boto3 client: the default VPC, AWS's shapes and errors, NAT and endpoint lifecycles, billing."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from botocore.exceptions import ClientError

S3 = "com.amazonaws.us-east-1.s3"
RUNTIME = "com.amazonaws.us-east-1.sagemaker.runtime"


@pytest.fixture
def ec2(eng):
    return eng.client("ec2")


def error(exc: pytest.ExceptionInfo) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def new_vpc(ec2, cidr: str = "10.0.0.0/16", dns: bool = False) -> str:
    vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    if dns:
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    return vpc


def new_subnet(ec2, vpc: str, cidr: str, az: str = "us-east-1a") -> str:
    return ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=az)["Subnet"]["SubnetId"]


def public_vpc(ec2) -> tuple[str, str, str]:
    """A VPC with an attached internet gateway and a subnet whose main route table sends 0.0.0.0/0 to it."""
    vpc = new_vpc(ec2)
    subnet = new_subnet(ec2, vpc, "10.0.0.0/24")
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    main = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                              {"Name": "association.main", "Values": ["true"]}])["RouteTables"][0]
    ec2.create_route(RouteTableId=main["RouteTableId"], DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    return vpc, subnet, igw


# ----------------------------------------------------------------------------- the default VPC


def test_default_vpc_has_a_public_subnet_per_az_an_attached_igw_and_a_default_route(ec2):
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    assert len(vpc) == 1 and vpc[0]["CidrBlock"] == "172.31.0.0/16" and vpc[0]["IsDefault"] is True
    vid = vpc[0]["VpcId"]
    assert vid.startswith("vpc-") and len(vid) == 21
    subnets = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    assert [s["AvailabilityZone"] for s in subnets] == [f"us-east-1{c}" for c in "abcdef"]
    assert [s["CidrBlock"] for s in subnets][:3] == ["172.31.0.0/20", "172.31.16.0/20", "172.31.32.0/20"]
    assert all(s["MapPublicIpOnLaunch"] and s["AvailableIpAddressCount"] == 4091 for s in subnets)
    igws = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vid]}])
    igw = igws["InternetGateways"][0]["InternetGatewayId"]
    rt = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vid]}])["RouteTables"][0]
    assert rt["Associations"][0]["Main"] is True
    assert {(r.get("DestinationCidrBlock"), r["GatewayId"]) for r in rt["Routes"]} == {
        ("172.31.0.0/16", "local"), ("0.0.0.0/0", igw)}
    for attr, key in (("enableDnsSupport", "EnableDnsSupport"), ("enableDnsHostnames", "EnableDnsHostnames")):
        assert ec2.describe_vpc_attribute(VpcId=vid, Attribute=attr)[key] == {"Value": True}


def test_default_security_group_allows_all_from_itself_and_all_out(ec2):
    sg = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["default"]}])["SecurityGroups"][0]
    assert sg["IpPermissions"] == [{"IpProtocol": "-1", "IpRanges": [], "Ipv6Ranges": [], "PrefixListIds": [],
                                    "UserIdGroupPairs": [{"GroupId": sg["GroupId"], "UserId": "123456789012"}]}]
    assert sg["IpPermissionsEgress"][0]["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}]
    with pytest.raises(ClientError) as e:
        ec2.delete_security_group(GroupId=sg["GroupId"])
    assert error(e) == ("CannotDelete",
                        f'the specified group: "{sg["GroupId"]}" name: "default" cannot be deleted by a user')


def test_describe_availability_zones_and_the_s3_prefix_list(ec2):
    zones = ec2.describe_availability_zones()["AvailabilityZones"]
    assert [(z["ZoneName"], z["ZoneId"]) for z in zones][:2] == [("us-east-1a", "use1-az1"), ("us-east-1b", "use1-az2")]
    pls = ec2.describe_prefix_lists(PrefixListIds=["pl-63a5400a"])["PrefixLists"]
    assert pls[0]["PrefixListName"] == S3 and pls[0]["Cidrs"]


# ----------------------------------------------------------------------------- VPCs and subnets


def test_new_vpc_has_dns_support_but_not_hostnames_a_local_main_route_table_and_a_default_group(ec2):
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16",
                         TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "lab"}]}])["Vpc"]
    vid = vpc["VpcId"]
    assert vpc["Tags"] == [{"Key": "Name", "Value": "lab"}] and vpc["IsDefault"] is False
    assert ec2.describe_vpc_attribute(VpcId=vid, Attribute="enableDnsSupport")["EnableDnsSupport"]["Value"] is True
    assert ec2.describe_vpc_attribute(VpcId=vid, Attribute="enableDnsHostnames")["EnableDnsHostnames"]["Value"] is False
    assert [v["VpcId"] for v in ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["lab"]}])["Vpcs"]] == [vid]
    rts = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vid]}])["RouteTables"]
    assert len(rts) == 1 and rts[0]["Routes"] == [{"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local",
                                                   "Origin": "CreateRouteTable", "State": "active"}]
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vid]}])["SecurityGroups"]
    assert [g["GroupName"] for g in groups] == ["default"]


def test_unknown_vpc_is_invalid_vpc_id_not_found(ec2):
    with pytest.raises(ClientError) as e:
        ec2.describe_vpcs(VpcIds=["vpc-123"])
    assert error(e) == ("InvalidVpcID.NotFound", "The vpc ID 'vpc-123' does not exist")


def test_subnet_must_lie_inside_the_vpc_and_not_overlap(ec2):
    vpc = new_vpc(ec2)
    s = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]
    assert s["AvailabilityZone"] == "us-east-1a" and s["AvailableIpAddressCount"] == 251
    assert s["MapPublicIpOnLaunch"] is False and s["DefaultForAz"] is False
    with pytest.raises(ClientError) as e:
        ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.0.0/24")
    assert error(e) == ("InvalidSubnet.Range", "The CIDR '10.1.0.0/24' is invalid.")
    with pytest.raises(ClientError) as e:
        ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.128/25")
    assert error(e) == ("InvalidSubnet.Conflict", "The CIDR '10.0.1.128/25' conflicts with another subnet")
    ec2.modify_subnet_attribute(SubnetId=s["SubnetId"], MapPublicIpOnLaunch={"Value": True})
    assert ec2.describe_subnets(SubnetIds=[s["SubnetId"]])["Subnets"][0]["MapPublicIpOnLaunch"] is True


def test_delete_vpc_is_a_dependency_violation_while_subnets_remain(ec2):
    vpc = new_vpc(ec2)
    subnet = new_subnet(ec2, vpc, "10.0.0.0/24")
    with pytest.raises(ClientError) as e:
        ec2.delete_vpc(VpcId=vpc)
    assert error(e) == ("DependencyViolation", f"The vpc '{vpc}' has dependencies and cannot be deleted.")
    ec2.delete_subnet(SubnetId=subnet)
    ec2.delete_vpc(VpcId=vpc)
    with pytest.raises(ClientError) as e:
        ec2.describe_subnets(SubnetIds=[subnet])
    assert error(e) == ("InvalidSubnetID.NotFound", f"The subnet ID '{subnet}' does not exist")


def test_dry_run_answers_dry_run_operation(ec2):
    with pytest.raises(ClientError) as e:
        ec2.create_vpc(CidrBlock="10.0.0.0/16", DryRun=True)
    assert error(e)[0] == "DryRunOperation"
    assert len(ec2.describe_vpcs()["Vpcs"]) == 1


# ----------------------------------------------------------------------------- security groups


def test_security_group_rules_authorize_describe_and_revoke(ec2):
    vpc = new_vpc(ec2)
    a = ec2.create_security_group(GroupName="a", Description="jobs", VpcId=vpc)["GroupId"]
    b = ec2.create_security_group(GroupName="b", Description="endpoints", VpcId=vpc)["GroupId"]
    perm = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "UserIdGroupPairs": [{"GroupId": a}],
            "IpRanges": [{"CidrIp": "10.0.0.0/24"}]}
    out = ec2.authorize_security_group_ingress(GroupId=b, IpPermissions=[perm])
    assert out["Return"] is True and len(out["SecurityGroupRules"]) == 2
    assert out["SecurityGroupRules"][0]["SecurityGroupRuleId"].startswith("sgr-")
    g = ec2.describe_security_groups(GroupIds=[b])["SecurityGroups"][0]
    assert g["IpPermissions"] == [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                                   "IpRanges": [{"CidrIp": "10.0.0.0/24"}], "Ipv6Ranges": [], "PrefixListIds": [],
                                   "UserIdGroupPairs": [{"GroupId": a, "UserId": "123456789012"}]}]
    assert g["IpPermissionsEgress"][0]["IpProtocol"] == "-1"  # a new group may send anything anywhere
    with pytest.raises(ClientError) as e:
        ec2.authorize_security_group_ingress(GroupId=b, IpProtocol="tcp", FromPort=443, ToPort=443,
                                             CidrIp="10.0.0.0/24")
    assert error(e) == ("InvalidPermission.Duplicate", 'the specified rule "peer: 10.0.0.0/24, TCP, from port: 443, '
                                                       'to port: 443, ALLOW" already exists')
    ec2.revoke_security_group_ingress(GroupId=b, IpPermissions=[perm])
    assert ec2.describe_security_groups(GroupIds=[b])["SecurityGroups"][0]["IpPermissions"] == []
    with pytest.raises(ClientError) as e:
        ec2.revoke_security_group_ingress(GroupId=b, IpPermissions=[perm])
    assert error(e) == ("InvalidPermission.NotFound", "The specified rule does not exist in this security group.")
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [b]}])["SecurityGroupRules"]
    assert [(r["IsEgress"], r["CidrIpv4"]) for r in rules] == [(True, "0.0.0.0/0")]


def test_security_group_name_is_unique_per_vpc_and_unknown_groups_are_not_found(ec2):
    vpc = new_vpc(ec2)
    ec2.create_security_group(GroupName="jobs", Description="d", VpcId=vpc)
    with pytest.raises(ClientError) as e:
        ec2.create_security_group(GroupName="jobs", Description="d", VpcId=vpc)
    assert error(e) == ("InvalidGroup.Duplicate", f"The security group 'jobs' already exists for VPC '{vpc}'")
    with pytest.raises(ClientError) as e:
        ec2.describe_security_groups(GroupIds=["sg-123"])
    assert error(e) == ("InvalidGroup.NotFound", "The security group 'sg-123' does not exist")


# ----------------------------------------------------------------------------- route tables and gateways


def test_routes_need_an_attached_gateway_and_are_unique_per_destination(ec2):
    vpc = new_vpc(ec2)
    rtb = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    with pytest.raises(ClientError) as e:
        ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    assert error(e) == ("InvalidParameterValue", f"route table {rtb} and network gateway {igw} belong to different "
                                                 "networks")
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    with pytest.raises(ClientError) as e:
        ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    assert error(e) == ("RouteAlreadyExists", "The route identified by 0.0.0.0/0 already exists.")
    with pytest.raises(ClientError) as e:
        ec2.delete_internet_gateway(InternetGatewayId=igw)
    assert error(e)[0] == "DependencyViolation"
    ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    routes = ec2.describe_route_tables(RouteTableIds=[rtb])["RouteTables"][0]["Routes"]
    assert routes[1] == {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": igw, "Origin": "CreateRoute",
                         "State": "blackhole"}
    with pytest.raises(ClientError) as e:
        ec2.replace_route(RouteTableId=rtb, DestinationCidrBlock="10.9.0.0/16", GatewayId=igw)
    assert error(e) == ("InvalidParameterValue", "There is no route defined for '10.9.0.0/16' in the route table. "
                                                 "Use CreateRoute instead.")


def test_subnet_association_is_explicit_unique_and_blocks_deleting_the_table(ec2):
    vpc = new_vpc(ec2)
    subnet = new_subnet(ec2, vpc, "10.0.0.0/24")
    rtb = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    other = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    assoc = ec2.associate_route_table(RouteTableId=rtb, SubnetId=subnet)
    assert assoc["AssociationId"].startswith("rtbassoc-") and assoc["AssociationState"] == {"State": "associated"}
    with pytest.raises(ClientError) as e:
        ec2.associate_route_table(RouteTableId=other, SubnetId=subnet)
    assert error(e) == ("Resource.AlreadyAssociated", f"the specified association for route table {other} "
                                                      "conflicts with an existing association")
    found = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])["RouteTables"]
    assert [t["RouteTableId"] for t in found] == [rtb]
    with pytest.raises(ClientError) as e:
        ec2.delete_route_table(RouteTableId=rtb)
    assert error(e) == ("DependencyViolation", f"The routeTable '{rtb}' has dependencies and cannot be deleted.")
    ec2.disassociate_route_table(AssociationId=assoc["AssociationId"])
    ec2.delete_route_table(RouteTableId=rtb)
    with pytest.raises(ClientError) as e:
        ec2.describe_route_tables(RouteTableIds=[rtb])
    assert error(e) == ("InvalidRouteTableID.NotFound", f"The routeTable ID '{rtb}' does not exist")


def test_elastic_ip_is_deterministic_and_cannot_be_released_while_a_nat_gateway_uses_it(eng, ec2):
    _, subnet, _ = public_vpc(ec2)
    eip = ec2.allocate_address(Domain="vpc")
    assert eip["AllocationId"].startswith("eipalloc-") and eip["PublicIp"].split(".")[0] in ("3", "54")
    ec2.create_nat_gateway(SubnetId=subnet, AllocationId=eip["AllocationId"])
    addr = ec2.describe_addresses(AllocationIds=[eip["AllocationId"]])["Addresses"][0]
    assert addr["AssociationId"].startswith("eipassoc-") and addr["NetworkInterfaceId"].startswith("eni-")
    with pytest.raises(ClientError) as e:
        ec2.release_address(AllocationId=eip["AllocationId"])
    assert error(e)[0] == "InvalidIPAddress.InUse"
    with pytest.raises(ClientError) as e:
        ec2.release_address(AllocationId="eipalloc-123")
    assert error(e) == ("InvalidAllocationID.NotFound", "The allocation ID 'eipalloc-123' does not exist")


# ----------------------------------------------------------------------------- NAT gateways


def test_nat_gateway_is_pending_then_available_in_virtual_time_and_the_waiter_works(eng, ec2):
    _, subnet, _ = public_vpc(ec2)
    alloc = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=alloc)["NatGateway"]
    assert nat["State"] == "pending" and nat["NatGatewayId"].startswith("nat-")
    assert nat["ConnectivityType"] == "public" and nat["NatGatewayAddresses"][0]["AllocationId"] == alloc
    start = eng.seconds
    ec2.get_waiter("nat_gateway_available").wait(NatGatewayIds=[nat["NatGatewayId"]])
    assert 90 <= eng.seconds - start <= 105  # the waiter polls every 15 s of virtual time
    assert ec2.describe_nat_gateways(Filter=[{"Name": "state", "Values": ["available"]}])["NatGateways"][0][
        "NatGatewayId"] == nat["NatGatewayId"]


def test_nat_gateway_bills_its_hourly_rate_from_creation_until_deleted(eng, ec2):
    _, subnet, _ = public_vpc(ec2)
    alloc = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nid = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=alloc)["NatGateway"]["NatGatewayId"]
    eng.advance(3600)
    ec2.delete_nat_gateway(NatGatewayId=nid)
    assert ec2.describe_nat_gateways(NatGatewayIds=[nid])["NatGateways"][0]["State"] == "deleting"
    eng.advance(3600)
    [li] = eng.bill().for_resource(f"natgateway/{nid}")
    assert li.resource_arn == f"arn:aws:ec2:us-east-1:123456789012:natgateway/{nid}"
    assert (li.service, li.usage_type, li.amount) == ("ec2", "nat-gateway-hours", Decimal("0.045000"))
    gone = ec2.describe_nat_gateways(NatGatewayIds=[nid])["NatGateways"][0]
    assert gone["State"] == "deleted" and "DeleteTime" in gone
    assert "AssociationId" not in ec2.describe_addresses(AllocationIds=[alloc])["Addresses"][0]


def test_public_nat_gateway_in_a_vpc_without_an_internet_gateway_fails_and_is_not_billed(eng, ec2):
    vpc = new_vpc(ec2)
    subnet = new_subnet(ec2, vpc, "10.0.0.0/24")
    alloc = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nid = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=alloc)["NatGateway"]["NatGatewayId"]
    eng.advance(120)
    nat = ec2.describe_nat_gateways(NatGatewayIds=[nid])["NatGateways"][0]
    assert (nat["State"], nat["FailureCode"]) == ("failed", "Gateway.NotAttached")
    assert nat["FailureMessage"] == f"Network {vpc} has no Internet gateway attached"
    assert eng.bill().for_resource(nid) == []


def test_unknown_nat_gateway_is_nat_gateway_not_found(ec2):
    with pytest.raises(ClientError) as e:
        ec2.describe_nat_gateways(NatGatewayIds=["nat-123"])
    assert error(e) == ("NatGatewayNotFound", "NAT gateway nat-123 was not found")


# ----------------------------------------------------------------------------- VPC endpoints


def test_gateway_endpoint_adds_a_prefix_list_route_and_deleting_it_removes_the_route(eng, ec2):
    vpc = new_vpc(ec2)
    rtb = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ep = ec2.create_vpc_endpoint(VpcEndpointType="Gateway", VpcId=vpc, ServiceName=S3,
                                 RouteTableIds=[rtb])["VpcEndpoint"]
    assert ep["State"] == "available" and ep["RouteTableIds"] == [rtb] and ep["VpcEndpointId"].startswith("vpce-")
    assert json.loads(ep["PolicyDocument"])["Statement"][0]["Action"] == "*"
    routes = ec2.describe_route_tables(RouteTableIds=[rtb])["RouteTables"][0]["Routes"]
    assert {"DestinationPrefixListId": "pl-63a5400a", "GatewayId": ep["VpcEndpointId"], "Origin": "CreateRoute",
            "State": "active"} in routes
    with pytest.raises(ClientError) as e:
        ec2.create_vpc_endpoint(VpcEndpointType="Gateway", VpcId=vpc, ServiceName=S3, RouteTableIds=[rtb])
    assert error(e)[0] == "RouteAlreadyExists"
    out = ec2.delete_vpc_endpoints(VpcEndpointIds=[ep["VpcEndpointId"], "vpce-0123"])
    assert [u["ResourceId"] for u in out["Unsuccessful"]] == ["vpce-0123"]
    assert len(ec2.describe_route_tables(RouteTableIds=[rtb])["RouteTables"][0]["Routes"]) == 1
    assert eng.bill().for_resource(ep["VpcEndpointId"]) == []  # gateway endpoints are free


def test_interface_endpoint_private_dns_requires_both_vpc_dns_attributes(ec2):
    vpc = new_vpc(ec2)
    subnet = new_subnet(ec2, vpc, "10.0.0.0/24")
    with pytest.raises(ClientError) as e:
        ec2.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=vpc, ServiceName=RUNTIME, SubnetIds=[subnet])
    assert error(e) == ("InvalidParameter", "Enabling private DNS requires both enableDnsSupport and "
                                            f"enableDnsHostnames VPC attributes set to true for {vpc}")
    ep = ec2.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=vpc, ServiceName=RUNTIME, SubnetIds=[subnet],
                                 PrivateDnsEnabled=False)["VpcEndpoint"]
    assert ep["PrivateDnsEnabled"] is False


def test_interface_endpoint_shape_dns_names_pending_then_available(eng, ec2):
    vpc = new_vpc(ec2, dns=True)
    subnet = new_subnet(ec2, vpc, "10.0.0.0/24")
    default_sg = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"][0]
    ep = ec2.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=vpc, ServiceName=RUNTIME,
                                 SubnetIds=[subnet])["VpcEndpoint"]
    eid = ep["VpcEndpointId"]
    assert ep["State"] == "pending" and ep["PrivateDnsEnabled"] is True
    assert ep["Groups"] == [{"GroupId": default_sg["GroupId"], "GroupName": "default"}]
    names = [d["DnsName"] for d in ep["DnsEntries"]]
    assert names[0].startswith(f"{eid}-") and names[0].endswith(".runtime.sagemaker.us-east-1.vpce.amazonaws.com")
    assert len(names[0].split(".")[0]) == len(eid) + 9
    assert names[1].endswith("-us-east-1a.runtime.sagemaker.us-east-1.vpce.amazonaws.com")
    assert names[-1] == "runtime.sagemaker.us-east-1.amazonaws.com"
    assert len(ep["NetworkInterfaceIds"]) == 1
    eng.advance(60)
    assert ec2.describe_vpc_endpoints(VpcEndpointIds=[eid])["VpcEndpoints"][0]["State"] == "available"
    with pytest.raises(ClientError) as e:  # one private hosted zone per service name and VPC
        ec2.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=vpc, ServiceName=RUNTIME, SubnetIds=[subnet])
    assert error(e) == ("InvalidParameter", "private-dns-enabled cannot be set because there is already a conflicting "
                                            "DNS domain for runtime.sagemaker.us-east-1.amazonaws.com in the VPC "
                                            f"{vpc}")


def test_interface_endpoint_bills_per_subnet_hour_and_takes_one_subnet_per_az(eng, ec2):
    vpc = new_vpc(ec2, dns=True)
    a = new_subnet(ec2, vpc, "10.0.0.0/24", "us-east-1a")
    b = new_subnet(ec2, vpc, "10.0.1.0/24", "us-east-1b")
    a2 = new_subnet(ec2, vpc, "10.0.2.0/24", "us-east-1a")
    with pytest.raises(ClientError) as e:
        ec2.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=vpc, ServiceName=RUNTIME, SubnetIds=[a, a2])
    assert error(e)[0] == "DuplicateSubnetsInSameZone"
    eid = ec2.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=vpc, ServiceName=RUNTIME,
                                  SubnetIds=[a, b])["VpcEndpoint"]["VpcEndpointId"]
    eng.advance(3600)
    [li] = eng.bill().for_resource(f"vpc-endpoint/{eid}")
    assert (li.usage_type, li.instance_count, li.amount) == ("vpc-endpoint-hours", 2, Decimal("0.020000"))
    assert ec2.modify_vpc_endpoint(VpcEndpointId=eid, RemoveSubnetIds=[b])["Return"] is True
    eng.advance(3600)
    assert sum(li.amount for li in eng.bill().for_resource(f"vpc-endpoint/{eid}")) == Decimal("0.030000")


def test_endpoint_service_names_and_types_are_checked(ec2):
    vpc = new_vpc(ec2)
    with pytest.raises(ClientError) as e:
        ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-east-1.nosuch")
    assert error(e) == ("InvalidServiceName", "The Vpc Endpoint Service 'com.amazonaws.us-east-1.nosuch' does not "
                                              "exist")
    with pytest.raises(ClientError) as e:
        ec2.create_vpc_endpoint(VpcEndpointType="Gateway", VpcId=vpc,
                                ServiceName="com.amazonaws.us-east-1.sagemaker.api")
    assert error(e) == ("InvalidParameter", "Endpoint type (Gateway) does not match available service types "
                                            "([Interface]).")
    services = ec2.describe_vpc_endpoint_services()
    assert "com.amazonaws.us-east-1.sagemaker.api" in services["ServiceNames"]
    s3_types = [d["ServiceType"][0]["ServiceType"] for d in services["ServiceDetails"] if d["ServiceName"] == S3]
    assert s3_types == ["Gateway", "Interface"]
    with pytest.raises(ClientError) as e:
        ec2.describe_vpc_endpoints(VpcEndpointIds=["vpce-123"])
    assert error(e)[0] == "InvalidVpcEndpointId.NotFound"


def test_endpoint_policy_is_kept_and_exposed_for_iam(eng, ec2):
    vpc = new_vpc(ec2)
    rtb = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    eid = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=S3, RouteTableIds=[rtb])["VpcEndpoint"]["VpcEndpointId"]
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                                      "Resource": "arn:aws:s3:::my-bucket/*"}]}
    ec2.modify_vpc_endpoint(VpcEndpointId=eid, PolicyDocument=json.dumps(policy))
    assert json.loads(ec2.describe_vpc_endpoints(VpcEndpointIds=[eid])["VpcEndpoints"][0]["PolicyDocument"]) == policy
    assert eng._world.services["ec2"].endpoint_policy(eid) == policy


# ----------------------------------------------------------------------------- tags


def test_tags_are_created_filtered_and_deleted(ec2):
    vpc = new_vpc(ec2)
    ec2.create_tags(Resources=[vpc], Tags=[{"Key": "team", "Value": "ml"}])
    assert [v["VpcId"] for v in ec2.describe_vpcs(Filters=[{"Name": "tag-key", "Values": ["team"]}])["Vpcs"]] == [vpc]
    ec2.delete_tags(Resources=[vpc], Tags=[{"Key": "team"}])
    assert ec2.describe_vpcs(Filters=[{"Name": "tag:team", "Values": ["ml"]}])["Vpcs"] == []
