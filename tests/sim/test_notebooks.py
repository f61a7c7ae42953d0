"""Notebook instances: AWS's statuses, billing only while InService, lifecycle scripts and their 5-minute limit."""

from __future__ import annotations

import base64
from decimal import Decimal

import pytest
from botocore.exceptions import ClientError

from engine.bill import per_second
from engine.pricing import hourly_price
from engine.services.sagemaker.notebooks import script_seconds
from tests.helpers import ROLE

ARN = "arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/nb"


def b64(script: str) -> str:
    return base64.b64encode(script.encode()).decode()


def create(sm, name: str = "nb", **kw) -> None:
    sm.create_notebook_instance(NotebookInstanceName=name, InstanceType="ml.t3.medium", RoleArn=ROLE, **kw)


def status(sm, name: str = "nb") -> str:
    return sm.describe_notebook_instance(NotebookInstanceName=name)["NotebookInstanceStatus"]


def statuses(eng, arn: str = ARN) -> list[str]:
    return [e.status for e in eng.timeline() if e.resource == arn and e.kind == "status"]


def test_statuses_follow_aws_from_pending_to_deleted(eng, sm):
    create(sm)
    assert status(sm) == "Pending"
    eng.run_until_idle()  # the launch is a transition; a standing InService instance does not keep it busy
    assert status(sm) == "InService"
    d = sm.describe_notebook_instance(NotebookInstanceName="nb")
    assert d["Url"] == "nb.notebook.us-east-1.sagemaker.aws" and d["VolumeSizeInGB"] == 5
    sm.stop_notebook_instance(NotebookInstanceName="nb")
    assert status(sm) == "Stopping"
    sm.get_waiter("notebook_instance_stopped").wait(NotebookInstanceName="nb")
    sm.start_notebook_instance(NotebookInstanceName="nb")
    assert status(sm) == "Pending"
    sm.get_waiter("notebook_instance_in_service").wait(NotebookInstanceName="nb")
    sm.stop_notebook_instance(NotebookInstanceName="nb")
    eng.run_until_idle()
    sm.delete_notebook_instance(NotebookInstanceName="nb")
    assert status(sm) == "Deleting"
    sm.get_waiter("notebook_instance_deleted").wait(NotebookInstanceName="nb")
    with pytest.raises(ClientError) as e:
        sm.describe_notebook_instance(NotebookInstanceName="nb")
    assert e.value.response["Error"] == {"Code": "ValidationException", "Message": "RecordNotFound"}
    assert statuses(eng) == ["Pending", "InService", "Stopping", "Stopped", "Pending", "InService", "Stopping",
                             "Stopped", "Deleting"]
    assert sm.list_notebook_instances()["NotebookInstances"] == []


def test_compute_is_billed_only_while_in_service(eng, sm):
    create(sm, VolumeSizeInGB=20)
    eng.run_until_idle()
    assert eng.bill().for_resource("notebook-instance/nb")[0].usage_type == "notebook-storage-gb-seconds"
    in_service = sm.describe_notebook_instance(NotebookInstanceName="nb")["LastModifiedTime"]
    eng.advance(5400)
    sm.stop_notebook_instance(NotebookInstanceName="nb")
    stopped_at = eng.now
    eng.advance(7200)  # Stopped for two hours: no compute charge, the volume still costs
    lines = {li.usage_type: li for li in eng.bill().for_resource("notebook-instance/nb")}
    compute = lines["notebook-instance-seconds"]
    assert compute.quantity == Decimal((stopped_at - in_service).total_seconds()) == 5400
    assert compute.unit_price == per_second(hourly_price("notebook", "ml.t3.medium").usd)
    assert compute.amount == (5400 * compute.unit_price).quantize(Decimal("0.000001"))
    assert lines["notebook-storage-gb-seconds"].quantity == 20 * eng.seconds  # from creation, Stopped or not


def test_delete_and_update_are_refused_while_in_service_with_aws_messages(eng, sm):
    create(sm)
    eng.run_until_idle()
    with pytest.raises(ClientError) as e:
        sm.delete_notebook_instance(NotebookInstanceName="nb")
    assert e.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": f"Status (InService) not in ([Stopped, Failed]). Unable to transition to (Deleting) for Notebook "
                   f"Instance ({ARN})."}
    with pytest.raises(ClientError, match=r"Status \(InService\) not in \(\[Stopped\]\). Unable to transition to "
                                          r"\(Updating\)"):
        sm.update_notebook_instance(NotebookInstanceName="nb", InstanceType="ml.m5.xlarge")
    with pytest.raises(ClientError, match=r"Status \(InService\) not in \(\[Stopped, Failed\]\). Unable to transition "
                                          r"to \(Pending\)"):
        sm.start_notebook_instance(NotebookInstanceName="nb")
    sm.stop_notebook_instance(NotebookInstanceName="nb")
    eng.run_until_idle()
    sm.update_notebook_instance(NotebookInstanceName="nb", InstanceType="ml.m5.xlarge", VolumeSizeInGB=10)
    assert status(sm) == "Updating"
    eng.run_until_idle()
    d = sm.describe_notebook_instance(NotebookInstanceName="nb")
    assert (d["NotebookInstanceStatus"], d["InstanceType"], d["VolumeSizeInGB"]) == ("Stopped", "ml.m5.xlarge", 10)


def test_lifecycle_scripts_are_stored_and_logged_per_hook(eng, sm):
    on_create = "#!/bin/bash\nset -e\naws s3 cp s3://my-bucket/setup.sh /tmp/\n"
    on_start = "#!/bin/bash\nsudo -u ec2-user -i <<'EOF'\nsource activate python3\npip install xgboost\nEOF\n"
    arn = sm.create_notebook_instance_lifecycle_config(
        NotebookInstanceLifecycleConfigName="setup", OnCreate=[{"Content": b64(on_create)}],
        OnStart=[{"Content": b64(on_start)}])["NotebookInstanceLifecycleConfigArn"]
    assert arn == "arn:aws:sagemaker:us-east-1:123456789012:notebook-instance-lifecycle-config/setup"
    d = sm.describe_notebook_instance_lifecycle_config(NotebookInstanceLifecycleConfigName="setup")
    assert base64.b64decode(d["OnStart"][0]["Content"]).decode() == on_start
    create(sm, LifecycleConfigName="setup")
    eng.run_until_idle()
    assert status(sm) == "InService"
    logs = eng.client("logs")
    streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/NotebookInstances")["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["nb/LifecycleConfigOnCreate", "nb/LifecycleConfigOnStart"]
    events = logs.get_log_events(logGroupName="/aws/sagemaker/NotebookInstances",
                                 logStreamName="nb/LifecycleConfigOnStart", startFromHead=True)["events"]
    messages = [ev["message"] for ev in events]
    assert "+ pip install xgboost" in messages
    assert messages[-1] == "Lifecycle configuration OnStart script completed in 43 s"  # 10 + sudo 1 + source 1 + pip 30 + EOF 1
    # Each line is stamped at its simulated start: pip install starts 10 + 1 + 1 s into the script.
    pip = next(ev for ev in events if ev["message"] == "+ pip install xgboost")
    assert pip["timestamp"] - events[0]["timestamp"] == 12_000
    # OnCreate runs once; a restart runs OnStart only.
    sm.stop_notebook_instance(NotebookInstanceName="nb")
    eng.run_until_idle()
    sm.start_notebook_instance(NotebookInstanceName="nb")
    eng.run_until_idle()
    on_create_lines = eng.logs_for("/aws/sagemaker/NotebookInstances", "nb/LifecycleConfigOnCreate")
    on_start_lines = eng.logs_for("/aws/sagemaker/NotebookInstances", "nb/LifecycleConfigOnStart")
    assert sum(m.startswith("Running") for m in on_create_lines) == 1
    assert sum(m.startswith("Running") for m in on_start_lines) == 2


def test_a_script_past_five_minutes_fails_the_start_and_nothing_is_billed_for_compute(eng, sm):
    slow = "#!/bin/bash\nconda install -y -c conda-forge lightgbm\nconda install -y -c conda-forge catboost\n"
    sm.create_notebook_instance_lifecycle_config(NotebookInstanceLifecycleConfigName="slow",
                                                 OnStart=[{"Content": b64(slow)}])
    create(sm, LifecycleConfigName="slow")
    created = eng.seconds
    eng.run_until_idle()
    d = sm.describe_notebook_instance(NotebookInstanceName="nb")
    assert d["NotebookInstanceStatus"] == "Failed"
    assert d["FailureReason"] == (
        "Notebook Instance Lifecycle Config 'arn:aws:sagemaker:us-east-1:123456789012:notebook-instance-lifecycle-"
        f"config/slow' for Notebook Instance '{ARN}' took longer than 5 minutes. Please check your CloudWatch logs "
        "for more details if your Notebook Instance has Internet access.")
    failed_at = next(e.seconds for e in eng.timeline() if e.resource == ARN and e.status == "Failed")
    script_start = failed_at - 300
    assert script_start > created  # the instance launched first, then the script ran for exactly 5 minutes
    lines = eng.logs_for("/aws/sagemaker/NotebookInstances", "nb/LifecycleConfigOnStart")
    assert lines[-1].startswith("Lifecycle configuration OnStart script still running after 300 s")
    assert [li.usage_type for li in eng.bill().for_resource("notebook-instance/nb")] == ["notebook-storage-gb-seconds"]
    # The fix AWS recommends: run the slow part in the background.
    fixed = "#!/bin/bash\nnohup bash -c 'conda install -y lightgbm && conda install -y catboost' &\n"
    sm.update_notebook_instance_lifecycle_config(NotebookInstanceLifecycleConfigName="slow",
                                                 OnStart=[{"Content": b64(fixed)}])
    sm.start_notebook_instance(NotebookInstanceName="nb")
    eng.run_until_idle()
    d = sm.describe_notebook_instance(NotebookInstanceName="nb")
    assert d["NotebookInstanceStatus"] == "InService" and "FailureReason" not in d


def test_script_runtime_rule():
    total, lines = script_seconds("#!/bin/bash\n# set up\n\npip install a b c\nsleep 2m\nconda install -y x\n"
                                  "echo done; sleep 5\nnohup pip install big &\nyum install -y \\\n  htop\n")
    assert [li.seconds for li in lines] == [30, 120, 150, 6, 1, 45]
    assert total == 10 + 352


def test_presigned_url_only_when_in_service(eng, sm):
    create(sm)
    with pytest.raises(ClientError) as e:
        sm.create_presigned_notebook_instance_url(NotebookInstanceName="nb")
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert "Status (Pending) not in ([InService])" in e.value.response["Error"]["Message"]
    eng.run_until_idle()
    url = sm.create_presigned_notebook_instance_url(NotebookInstanceName="nb")["AuthorizedUrl"]
    assert url.startswith("https://nb.notebook.us-east-1.sagemaker.aws?authToken=")
    sm.stop_notebook_instance(NotebookInstanceName="nb")
    with pytest.raises(ClientError, match=r"Status \(Stopping\) not in \(\[InService\]\)"):
        sm.create_presigned_notebook_instance_url(NotebookInstanceName="nb")


def test_direct_internet_access_disabled_requires_a_subnet(eng, sm):
    with pytest.raises(ClientError, match="SubnetId") as e:
        create(sm, DirectInternetAccess="Disabled")
    assert e.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError, match="The subnet ID 'subnet-0abc' does not exist"):
        create(sm, DirectInternetAccess="Disabled", SubnetId="subnet-0abc", SecurityGroupIds=["sg-0abc"])
    ec2 = eng.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="nb", Description="notebook", VpcId=vpc)["GroupId"]
    create(sm, DirectInternetAccess="Disabled", SubnetId=subnet, SecurityGroupIds=[group])
    d = sm.describe_notebook_instance(NotebookInstanceName="nb")
    assert d["DirectInternetAccess"] == "Disabled" and d["SubnetId"] == subnet
    with pytest.raises(ClientError, match=r"Cannot create a duplicate Notebook Instance"):
        create(sm)


def test_lifecycle_config_errors_and_listing(eng, sm):
    with pytest.raises(ClientError, match=r"Notebook Instance Lifecycle Config does not exist\.\)$"):
        sm.describe_notebook_instance_lifecycle_config(NotebookInstanceLifecycleConfigName="nope")
    with pytest.raises(ClientError, match="base64"):
        sm.create_notebook_instance_lifecycle_config(NotebookInstanceLifecycleConfigName="raw",
                                                     OnStart=[{"Content": "pip install x!"}])
    for name in ("b-config", "a-config"):
        sm.create_notebook_instance_lifecycle_config(NotebookInstanceLifecycleConfigName=name,
                                                     OnStart=[{"Content": b64("echo hi\n")}])
        eng.advance(1)
    names = [c["NotebookInstanceLifecycleConfigName"]
             for c in sm.list_notebook_instance_lifecycle_configs()["NotebookInstanceLifecycleConfigs"]]
    assert names == ["b-config", "a-config"]  # by creation time
    sm.delete_notebook_instance_lifecycle_config(NotebookInstanceLifecycleConfigName="a-config")
    with pytest.raises(ClientError, match="Unable to describe Notebook Instance Lifecycle Config"):
        create(sm, LifecycleConfigName="a-config")
