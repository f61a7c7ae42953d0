"""The List* behaviour every SageMaker job family shares (engine/services/sagemaker/listing.py)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.helpers import training_request


def test_list_training_jobs_filters_sorts_and_pages(eng, sm, s3):
    for name in ("b-job", "a-job", "c-other"):
        sm.create_training_job(**training_request(eng, name))
        eng.advance(1)
    first = sm.list_training_jobs(MaxResults=2)  # default: newest first
    assert [j["TrainingJobName"] for j in first["TrainingJobSummaries"]] == ["c-other", "a-job"]
    rest = sm.list_training_jobs(MaxResults=2, NextToken=first["NextToken"])
    assert [j["TrainingJobName"] for j in rest["TrainingJobSummaries"]] == ["b-job"] and "NextToken" not in rest
    named = sm.list_training_jobs(NameContains="JOB", SortBy="Name", SortOrder="Ascending")
    assert [j["TrainingJobName"] for j in named["TrainingJobSummaries"]] == ["a-job", "b-job"]
    with pytest.raises(ClientError) as e:
        sm.list_training_jobs(NextToken="not-a-token")
    assert e.value.response["Error"]["Message"] == "Invalid pagination token."


@pytest.mark.parametrize("operation", ["list_domains", "list_user_profiles", "list_apps", "list_notebook_instances",
                                       "list_notebook_instance_lifecycle_configs", "list_workteams"])
def test_every_list_refuses_a_malformed_token_alike(sm, operation):
    with pytest.raises(ClientError) as e:
        getattr(sm, operation)(NextToken="not-a-token")
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert e.value.response["Error"]["Message"] == "Invalid pagination token."
