"""SageMaker's tagging API (AddTags, ListTags, DeleteTags) and the DescribeTrainingJob fields the SDK reads."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.helpers import ROLE, training_request, wait


def test_tags_given_at_creation_are_listed_added_and_deleted(eng, sm, s3):
    req = training_request(eng)
    req["Tags"] = [{"Key": "team", "Value": "ml"}]
    arn = sm.create_training_job(**req)["TrainingJobArn"]
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]
    added = sm.add_tags(ResourceArn=arn, Tags=[{"Key": "team", "Value": "ds"}, {"Key": "cost", "Value": "1"}])
    assert added["Tags"] == [{"Key": "team", "Value": "ds"}, {"Key": "cost", "Value": "1"}]
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ds"}, {"Key": "cost", "Value": "1"}]
    sm.delete_tags(ResourceArn=arn, TagKeys=["team"])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "cost", "Value": "1"}]


def test_untagged_resources_list_no_tags_and_unknown_arns_are_refused(eng, sm, s3):
    sm.create_training_job(**training_request(eng))
    container = {"Image": eng.image_uri("xgboost"),
                 "ModelDataUrl": wait(sm, "job-1")["ModelArtifacts"]["S3ModelArtifacts"]}
    sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer=container)
    arn = sm.describe_model(ModelName="m")["ModelArn"]
    assert sm.list_tags(ResourceArn=arn)["Tags"] == []
    sm.delete_model(ModelName="m")
    with pytest.raises(ClientError) as e:
        sm.list_tags(ResourceArn=arn)
    assert e.value.response["Error"]["Code"] == "ValidationException"
    sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer=container, Tags=[{"Key": "v", "Value": "2"}])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "v", "Value": "2"}]


def test_describe_training_job_has_kms_key_and_builtin_metric_definitions(eng, sm, s3):
    sm.create_training_job(**training_request(eng))
    d = wait(sm, "job-1")
    assert d["OutputDataConfig"] == {"KmsKeyId": "", "S3OutputPath": "s3://my-bucket/output"}
    defs = d["AlgorithmSpecification"]["MetricDefinitions"]
    assert {"validation:auc", "train:rmse"} <= {m["Name"] for m in defs}
    assert all(m["Regex"] for m in defs)


def test_a_malformed_list_tags_token_is_a_validation_error(eng, sm, s3):
    arn = sm.create_training_job(**training_request(eng))["TrainingJobArn"]
    with pytest.raises(ClientError) as e:
        sm.list_tags(ResourceArn=arn, NextToken="not-a-token")
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert e.value.response["Error"]["Message"] == "Invalid pagination token."
