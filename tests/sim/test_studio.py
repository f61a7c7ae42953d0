"""Studio: domains, user profiles and apps with AWS's statuses; running apps bill until deleted."""

from __future__ import annotations

from decimal import Decimal

import pytest
from botocore.exceptions import ClientError

from engine.bill import per_second
from engine.pricing import hourly_price
from tests.helpers import ROLE

HOUR = 3600


@pytest.fixture
def domain(eng, sm) -> str:
    r = sm.create_domain(DomainName="learners", AuthMode="IAM", DefaultUserSettings={"ExecutionRole": ROLE},
                         VpcId="vpc-0abc", SubnetIds=["subnet-0abc"])
    eng.run_until_idle()
    sm.create_user_profile(DomainId=r["DomainId"], UserProfileName="alice")
    eng.run_until_idle()
    return r["DomainId"]


def app_status(sm, domain: str, name: str, app_type: str = "KernelGateway") -> str:
    return sm.describe_app(DomainId=domain, UserProfileName="alice", AppType=app_type, AppName=name)["Status"]


def kernel(sm, domain: str, name: str = "datascience", instance_type: str | None = "ml.t3.medium") -> None:
    spec = {"InstanceType": instance_type} if instance_type else {}
    sm.create_app(DomainId=domain, UserProfileName="alice", AppType="KernelGateway", AppName=name, ResourceSpec=spec)


def in_service(eng, sm, domain: str, name: str, app_type: str = "KernelGateway") -> None:
    eng.run_until_idle()
    assert app_status(sm, domain, name, app_type) == "InService"


def test_domain_profile_and_app_statuses(eng, sm):
    r = sm.create_domain(DomainName="learners", AuthMode="IAM", DefaultUserSettings={"ExecutionRole": ROLE},
                         VpcId="vpc-0abc", SubnetIds=["subnet-0abc"])
    domain = r["DomainId"]
    assert r["DomainArn"] == f"arn:aws:sagemaker:us-east-1:123456789012:domain/{domain}"
    assert r["Url"] == f"https://{domain}.studio.us-east-1.sagemaker.aws"
    assert sm.describe_domain(DomainId=domain)["Status"] == "Pending"
    with pytest.raises(ClientError) as e:
        sm.create_user_profile(DomainId=domain, UserProfileName="alice")
    assert e.value.response["Error"]["Code"] == "ResourceInUse"
    eng.run_until_idle()
    assert sm.describe_domain(DomainId=domain)["Status"] == "InService"
    sm.create_user_profile(DomainId=domain, UserProfileName="alice")
    assert sm.describe_user_profile(DomainId=domain, UserProfileName="alice")["Status"] == "Pending"
    eng.run_until_idle()
    assert sm.describe_user_profile(DomainId=domain, UserProfileName="alice")["Status"] == "InService"
    kernel(sm, domain)
    assert app_status(sm, domain, "datascience") == "Pending"
    in_service(eng, sm, domain, "datascience")
    sm.delete_app(DomainId=domain, UserProfileName="alice", AppType="KernelGateway", AppName="datascience")
    assert app_status(sm, domain, "datascience") == "Deleting"
    eng.run_until_idle()
    assert app_status(sm, domain, "datascience") == "Deleted"  # AWS keeps deleted apps listed
    [listed] = sm.list_apps(DomainIdEquals=domain)["Apps"]
    assert (listed["AppName"], listed["Status"], listed["ResourceSpec"]) == ("datascience", "Deleted",
                                                                            {"InstanceType": "ml.t3.medium"})
    arn = f"arn:aws:sagemaker:us-east-1:123456789012:app/{domain}/alice/kernelgateway/datascience"
    assert [e.status for e in eng.timeline() if e.resource == arn] == ["Pending", "InService", "Deleting", "Deleted"]
    [d] = sm.list_domains()["Domains"]
    assert (d["DomainId"], d["Status"]) == (domain, "InService")


def test_an_app_left_running_for_eight_hours_costs_eight_hours(eng, sm, domain):
    kernel(sm, domain)
    in_service(eng, sm, domain, "datascience")
    eng.advance(8 * HOUR)
    [li] = eng.bill().for_resource("kernelgateway/datascience")
    rate = per_second(hourly_price("studio", "ml.t3.medium").usd)
    assert (li.usage_type, li.instance_type, li.quantity) == ("studio-app-instance-seconds", "ml.t3.medium", 8 * HOUR)
    assert li.amount == (8 * HOUR * rate).quantize(Decimal("0.000001"))


def test_an_app_deleted_after_an_hour_costs_an_hour(eng, sm, domain):
    kernel(sm, domain, instance_type="ml.m5.xlarge")
    in_service(eng, sm, domain, "datascience")
    eng.advance(HOUR)
    sm.delete_app(DomainId=domain, UserProfileName="alice", AppType="KernelGateway", AppName="datascience")
    eng.advance(7 * HOUR)
    [li] = eng.bill().for_resource("kernelgateway/datascience")
    assert (li.quantity, li.instance_type) == (HOUR, "ml.m5.xlarge")
    assert li.amount == (HOUR * per_second(hourly_price("studio", "ml.m5.xlarge").usd)).quantize(Decimal("0.000001"))


def test_jupyter_server_on_system_is_free_and_system_means_t3_medium_for_kernels(eng, sm, domain):
    sm.create_app(DomainId=domain, UserProfileName="alice", AppType="JupyterServer", AppName="default")
    in_service(eng, sm, domain, "default", "JupyterServer")
    d = sm.describe_app(DomainId=domain, UserProfileName="alice", AppType="JupyterServer", AppName="default")
    assert d["ResourceSpec"] == {"InstanceType": "system"}
    with pytest.raises(ClientError, match="JupyterServer apps only support the system value"):
        sm.create_app(DomainId=domain, UserProfileName="alice", AppType="JupyterServer", AppName="big",
                      ResourceSpec={"InstanceType": "ml.t3.medium"})
    kernel(sm, domain, "on-system", instance_type="system")
    in_service(eng, sm, domain, "on-system")
    eng.advance(HOUR)
    assert eng.bill().for_resource("jupyterserver/default") == []
    [li] = eng.bill().for_resource("kernelgateway/on-system")
    assert (li.instance_type, li.quantity) == ("ml.t3.medium", HOUR)


def test_deletes_are_refused_while_something_still_stands(eng, sm, domain):
    kernel(sm, domain)
    in_service(eng, sm, domain, "datascience")
    with pytest.raises(ClientError) as e:
        sm.create_app(DomainId=domain, UserProfileName="alice", AppType="KernelGateway", AppName="datascience")
    assert e.value.response["Error"]["Code"] == "ResourceInUse"
    with pytest.raises(ClientError, match="has apps that are not deleted") as e:
        sm.delete_user_profile(DomainId=domain, UserProfileName="alice")
    assert e.value.response["Error"]["Code"] == "ResourceInUse"
    with pytest.raises(ClientError, match="has user profiles") as e:
        sm.delete_domain(DomainId=domain)
    sm.delete_app(DomainId=domain, UserProfileName="alice", AppType="KernelGateway", AppName="datascience")
    eng.run_until_idle()
    sm.delete_user_profile(DomainId=domain, UserProfileName="alice")
    eng.run_until_idle()
    with pytest.raises(ClientError) as e:
        sm.describe_user_profile(DomainId=domain, UserProfileName="alice")
    assert e.value.response["Error"]["Code"] == "ResourceNotFound"
    sm.delete_domain(DomainId=domain)
    assert sm.describe_domain(DomainId=domain)["Status"] == "Deleting"
    eng.run_until_idle()
    with pytest.raises(ClientError) as e:
        sm.describe_domain(DomainId=domain)
    assert e.value.response["Error"]["Code"] == "ResourceNotFound"
