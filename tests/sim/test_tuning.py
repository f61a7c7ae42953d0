"""Hyperparameter tuning jobs really search: real children, real metrics, AWS's rules and shapes."""

from __future__ import annotations

import gzip
import io
import json
import tarfile

import pytest
from botocore.exceptions import ClientError

from engine import Engine
from tests.helpers import DATA, ROLE, channel

XGB_STATIC = {"objective": "binary:logistic", "num_round": "20", "eval_metric": "logloss"}
ETA_LOG = {"Name": "eta", "MinValue": "0.001", "MaxValue": "0.5", "ScalingType": "Logarithmic"}
DEPTH = {"Name": "max_depth", "MinValue": "1", "MaxValue": "6", "ScalingType": "Linear"}
LL_STATIC = {"predictor_type": "binary_classifier", "early_stopping_patience": "30"}  # no self-stopping
LL_OBJECTIVE = {"metric": "validation:objective_loss", "integer": (),
                "continuous": ({"Name": "learning_rate", "MinValue": "0.00001", "MaxValue": "1",
                                "ScalingType": "Logarithmic"},)}


def definition(eng, algorithm: str = "xgboost", static: dict | None = None, spot: bool = False) -> dict:
    d = {"StaticHyperParameters": dict(XGB_STATIC if static is None else static),
         "AlgorithmSpecification": {"TrainingImage": eng.image_uri(algorithm), "TrainingInputMode": "File"},
         "RoleArn": ROLE,
         "InputDataConfig": [channel("train", f"{DATA}/breast-cancer/train/", "text/csv"),
                             channel("validation", f"{DATA}/breast-cancer/validation/", "text/csv")],
         "OutputDataConfig": {"S3OutputPath": "s3://my-bucket/tuning"},
         "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
         "StoppingCondition": {"MaxRuntimeInSeconds": 3600}}
    if spot:
        d["EnableManagedSpotTraining"] = True
        d["StoppingCondition"]["MaxWaitTimeInSeconds"] = 7200
    return d


def config(strategy: str = "Bayesian", jobs: int | None = 8, parallel: int = 2, metric: str = "validation:logloss",
           kind: str = "Minimize", continuous=(ETA_LOG,), integer=(DEPTH,), categorical=(), **extra) -> dict:
    limits = {"MaxParallelTrainingJobs": parallel}
    if jobs is not None:
        limits["MaxNumberOfTrainingJobs"] = jobs
    ranges = {}
    if continuous:
        ranges["ContinuousParameterRanges"] = list(continuous)
    if integer:
        ranges["IntegerParameterRanges"] = list(integer)
    if categorical:
        ranges["CategoricalParameterRanges"] = list(categorical)
    return {"Strategy": strategy, "HyperParameterTuningJobObjective": {"Type": kind, "MetricName": metric},
            "ResourceLimits": limits, "ParameterRanges": ranges, **extra}


def tune(eng, sm, name: str, cfg: dict, defn: dict | None = None, run: bool = True, **extra) -> dict:
    sm.create_hyper_parameter_tuning_job(HyperParameterTuningJobName=name, HyperParameterTuningJobConfig=cfg,
                                         TrainingJobDefinition=defn or definition(eng), **extra)
    if run:
        eng.run_until_idle()
    return sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)


def children(sm, name: str, **kw) -> list[dict]:
    out = []
    for page in sm.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job").paginate(
            HyperParameterTuningJobName=name, **kw):
        out += page["TrainingJobSummaries"]
    return out


def objective(summary: dict) -> float:
    return summary["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]


def rounds_trained(s3, job: str) -> int:
    body = s3.get_object(Bucket="my-bucket", Key=f"tuning/{job}/output/model.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(body))) as tar:
        return json.loads(tar.extractfile("manifest.json").read())["units"]


def error_of(call) -> ClientError:
    with pytest.raises(ClientError) as e:
        call()
    return e.value


# -- search really improves -------------------------------------------------------------------------------------
def test_bayesian_tuning_of_xgboost_finds_a_better_objective_than_its_first_job(eng, sm, s3):
    d = tune(eng, sm, "bayes", config())
    assert d["HyperParameterTuningJobStatus"] == "Completed"
    kids = children(sm, "bayes", SortBy="CreationTime")
    assert len(kids) == 8
    first = objective(kids[0])
    best = d["BestTrainingJob"]
    assert objective(best) < first
    assert best["TrainingJobName"] != kids[0]["TrainingJobName"]
    # the surrogate's suggestions (after the initial design) beat the median of the initial design
    initial = sorted(objective(k) for k in kids[:6])
    assert min(objective(k) for k in kids[6:]) < initial[len(initial) // 2]


def test_child_jobs_are_real_training_jobs_with_static_and_tuned_hyperparameters(eng, sm, s3):
    d = tune(eng, sm, "kids", config(strategy="Random", jobs=3, parallel=3))
    for k in children(sm, "kids"):
        name = k["TrainingJobName"]
        assert name.startswith("kids-") and len(name) == len("kids-001-") + 8
        assert name[5:8] in ("001", "002", "003") and all(c in "0123456789abcdef" for c in name[-8:])
        t = sm.describe_training_job(TrainingJobName=name)
        hp = t["HyperParameters"]
        assert hp["_tuning_objective_metric"] == "validation:logloss"
        assert {key: hp[key] for key in XGB_STATIC} == XGB_STATIC
        assert {key: hp[key] for key in ("eta", "max_depth")} == k["TunedHyperParameters"]
        assert all(isinstance(v, str) for v in k["TunedHyperParameters"].values())
        assert 0.001 <= float(hp["eta"]) <= 0.5 and hp["max_depth"] in {str(i) for i in range(1, 7)}
        metrics = {m["MetricName"]: m["Value"] for m in t["FinalMetricDataList"]}
        assert objective(k) == metrics["validation:logloss"]
        assert k["TrainingStartTime"] == t["TrainingStartTime"] and k["TrainingEndTime"] == t["TrainingEndTime"]
    listed = {j["TrainingJobName"] for j in sm.list_training_jobs(MaxResults=100)["TrainingJobSummaries"]}
    assert {k["TrainingJobName"] for k in children(sm, "kids")} <= listed
    assert d["HyperParameterTuningEndTime"] == max(k["TrainingEndTime"] for k in children(sm, "kids"))
    # As AWS answers (the SageMaker Python SDK's HyperparameterTuner.attach removes it): the reserved one too.
    assert d["TrainingJobDefinition"]["StaticHyperParameters"] == {**XGB_STATIC,
                                                                   "_tuning_objective_metric": "validation:logloss"}
    assert d["ConsumedResources"]["RuntimeInSeconds"] == int(
        (d["HyperParameterTuningEndTime"] - d["CreationTime"]).total_seconds())


def test_max_parallel_training_jobs_bounds_children_in_progress_at_every_instant(eng, sm, s3):
    tune(eng, sm, "par", config(strategy="Random", jobs=7, parallel=3))
    spans = [(k["CreationTime"], k["TrainingEndTime"]) for k in children(sm, "par")]
    assert len(spans) == 7
    instants = sorted({t for span in spans for t in span})
    in_progress = [sum(1 for start, end in spans if start <= t < end) for t in instants]
    assert max(in_progress) == 3  # the limit is reached and never exceeded
    # a new child starts only when one ends
    starts = sorted(start for start, _ in spans)
    ends = {end for _, end in spans}
    assert all(s == starts[0] or s in ends for s in starts)


def test_counters_and_best_training_job_agree_with_the_listed_children(eng, sm, s3):
    d = tune(eng, sm, "count", config(strategy="Random", jobs=6, parallel=2))
    kids = children(sm, "count")
    assert d["TrainingJobStatusCounters"] == {"Completed": 6, "InProgress": 0, "RetryableError": 0,
                                              "NonRetryableError": 0, "Stopped": 0}
    assert d["ObjectiveStatusCounters"] == {"Succeeded": 6, "Pending": 0, "Failed": 0}
    best = min(kids, key=objective)
    assert d["BestTrainingJob"]["TrainingJobName"] == best["TrainingJobName"]
    assert d["BestTrainingJob"] == best
    assert d["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"] == {
        "Type": "Minimize", "MetricName": "validation:logloss", "Value": objective(best)}
    by_value = children(sm, "count", SortBy="FinalObjectiveMetricValue", SortOrder="Ascending")
    assert [objective(k) for k in by_value] == sorted(objective(k) for k in kids)
    page = sm.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName="count", MaxResults=4)
    assert len(page["TrainingJobSummaries"]) == 4 and page["NextToken"]
    assert [k["TrainingJobName"] for k in kids] == sorted(k["TrainingJobName"] for k in kids)  # default: by Name
    summaries = sm.list_hyper_parameter_tuning_jobs(NameContains="coun")["HyperParameterTuningJobSummaries"]
    assert [s["HyperParameterTuningJobName"] for s in summaries] == ["count"]
    assert summaries[0]["Strategy"] == "Random" and summaries[0]["HyperParameterTuningJobStatus"] == "Completed"
    assert summaries[0]["TrainingJobStatusCounters"] == d["TrainingJobStatusCounters"]


def test_running_tuning_job_reports_in_progress_and_pending_children(eng, sm, s3):
    tune(eng, sm, "live", config(strategy="Random", jobs=4, parallel=2), run=False)
    eng.advance(60)
    d = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="live")
    assert d["HyperParameterTuningJobStatus"] == "InProgress" and "HyperParameterTuningEndTime" not in d
    assert d["TrainingJobStatusCounters"]["InProgress"] == 2
    assert d["ObjectiveStatusCounters"] == {"Succeeded": 0, "Pending": 2, "Failed": 0}
    assert "BestTrainingJob" not in d
    eng.run_until_idle()
    assert sm.describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="live")["HyperParameterTuningJobStatus"] == "Completed"


# -- Grid and Hyperband -----------------------------------------------------------------------------------------
def test_grid_infers_the_number_of_jobs_and_runs_every_combination_once(eng, sm, s3):
    cats = ({"Name": "max_depth", "Values": ["2", "4"]}, {"Name": "eta", "Values": ["0.1", "0.3", "0.5"]})
    d = tune(eng, sm, "grid", config(strategy="Grid", jobs=None, parallel=3, continuous=(), integer=(),
                                     categorical=cats))
    assert d["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 6
    combos = [(k["TunedHyperParameters"]["max_depth"], k["TunedHyperParameters"]["eta"])
              for k in children(sm, "grid")]
    assert sorted(combos) == sorted((a, b) for a in ("2", "4") for b in ("0.1", "0.3", "0.5"))
    assert d["TrainingJobStatusCounters"]["Completed"] == 6
    e = error_of(lambda: tune(eng, sm, "grid5", config(strategy="Grid", jobs=5, continuous=(), integer=(),
                                                         categorical=cats)))
    assert e.response["Error"]["Code"] == "ValidationException" and "(6)" in e.response["Error"]["Message"]


def test_hyperband_stops_some_jobs_early_and_lets_good_ones_run_to_max_resource(eng, sm, s3):
    # MaxResource is inferred from the static epochs; Linear Learner reports objective_loss every epoch
    static = {**LL_STATIC, "epochs": "27"}
    cfg = config(strategy="Hyperband", jobs=9, parallel=3, **LL_OBJECTIVE)
    d = tune(eng, sm, "hb", cfg, definition(eng, "linear-learner", static=static))
    assert d["HyperParameterTuningJobStatus"] == "Completed"
    kids = children(sm, "hb")
    stopped = [k for k in kids if k["TrainingJobStatus"] == "Stopped"]
    completed = [k for k in kids if k["TrainingJobStatus"] == "Completed"]
    assert stopped and completed
    assert all(rounds_trained(s3, k["TrainingJobName"]) in (1, 3, 9) for k in stopped)  # the rungs
    assert all(rounds_trained(s3, k["TrainingJobName"]) == 27 for k in completed)
    assert d["TrainingJobStatusCounters"]["Stopped"] == len(stopped)
    assert d["ObjectiveStatusCounters"]["Succeeded"] == 9  # a stopped job still reports its objective
    assert d["BestTrainingJob"]["TrainingJobName"] in {k["TrainingJobName"] for k in completed}
    for k in stopped:
        t = sm.describe_training_job(TrainingJobName=k["TrainingJobName"])
        assert t["SecondaryStatus"] == "Stopped"
        assert t["SecondaryStatusTransitions"][-1]["StatusMessage"] == "Training job stopped early by the tuning job"


def test_hyperband_rejects_early_stopping_auto_and_needs_a_max_resource(eng, sm, s3):
    e = error_of(lambda: tune(eng, sm, "hb1", config(strategy="Hyperband", TrainingJobEarlyStoppingType="Auto")))
    assert e.response["Error"]["Code"] == "ValidationException"
    assert "TrainingJobEarlyStoppingType must be Off" in e.response["Error"]["Message"]
    cfg = config(strategy="Hyperband", **LL_OBJECTIVE)
    e = error_of(lambda: tune(eng, sm, "hb2", cfg, definition(eng, "linear-learner", static=LL_STATIC)))
    assert "unable to infer a value for MaxResource" in e.response["Error"]["Message"]
    bad = dict(cfg, StrategyConfig={"HyperbandStrategyConfig": {"MinResource": 5, "MaxResource": 4}})
    e = error_of(lambda: tune(eng, sm, "hb3", bad, definition(eng, "linear-learner", static=LL_STATIC)))
    assert "MinResource (5) must be less than or equal to MaxResource (4)" in e.response["Error"]["Message"]
    # XGBoost's rounds count as its epochs: MaxResource comes from num_round
    d = tune(eng, sm, "hb4", config(strategy="Hyperband", jobs=2), run=False)
    assert d["HyperParameterTuningJobStatus"] == "InProgress"
    sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="hb4")
    eng.run_until_idle()


def test_early_stopping_auto_stops_a_job_worse_than_the_median_of_earlier_jobs(eng, sm, s3):
    static = {**LL_STATIC, "epochs": "20"}
    cfg = config(strategy="Random", jobs=8, parallel=1, TrainingJobEarlyStoppingType="Auto", **LL_OBJECTIVE)
    d = tune(eng, sm, "early", cfg, definition(eng, "linear-learner", static=static))
    assert d["HyperParameterTuningJobConfig"]["TrainingJobEarlyStoppingType"] == "Auto"
    kids = children(sm, "early", SortBy="CreationTime")
    stopped = [k for k in kids if k["TrainingJobStatus"] == "Stopped"]
    assert stopped and d["TrainingJobStatusCounters"]["Stopped"] == len(stopped)
    assert all(k["TrainingJobStatus"] == "Completed" for k in kids[:3])  # needs three earlier jobs to compare
    for k in stopped:
        assert rounds_trained(s3, k["TrainingJobName"]) < 20
        assert objective(k) > objective(d["BestTrainingJob"])


# -- validation ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cfg, text", [
    (config(continuous=({"Name": "eta", "MinValue": "0", "MaxValue": "0.5", "ScalingType": "Logarithmic"},)),
     "Logarithmic scaling works only for ranges that have only values greater than 0."),
    (config(integer=({"Name": "max_depth", "MinValue": "1", "MaxValue": "6", "ScalingType": "ReverseLogarithmic"},)),
     "Reverse logarithmic scaling is supported only for continuous hyperparameters."),
    (config(continuous=({"Name": "eta", "MinValue": "0.5", "MaxValue": "1", "ScalingType": "ReverseLogarithmic"},)),
     "works only for ranges that are entirely within the range 0<=x<1.0."),
    (config(strategy="Grid", jobs=None, categorical=({"Name": "gamma", "Values": ["0", "1"]},)),
     "The Grid search strategy supports only categorical parameters"),
    (config(metric="validation:bleu"),
     "A metric is required for this hyperparameter tuning job objective. Provide a metric in the metric definitions."),
    (config(continuous=({"Name": "eta", "MinValue": "fast", "MaxValue": "0.5"},)),
     "The MinValue 'fast' of hyperparameter 'eta' is not a valid number."),
    (config(strategy="Random", jobs=20, continuous=()),
     "You don't have enough combinations of hyperparameter ranges."),
    (config(continuous=({"Name": "num_round", "MinValue": "5", "MaxValue": "10"},)),
     "is given both as a static hyperparameter and in a parameter range"),
])
def test_invalid_tuning_configurations_are_rejected_with_aws_messages(eng, sm, s3, cfg, text):
    e = error_of(lambda: tune(eng, sm, "bad", cfg, run=False))
    assert e.response["Error"]["Code"] == "ValidationException"
    assert text in e.response["Error"]["Message"]
    assert sm.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"] == []


def test_limits_names_and_server_side_constraints(eng, sm, s3):
    e = error_of(lambda: tune(eng, sm, "big", config(parallel=11), run=False))
    assert e.response["Error"]["Code"] == "ResourceLimitExceeded"
    thirty_one = [{"Name": f"p{i}", "Values": ["a", "b"]} for i in range(31)]
    e = error_of(lambda: tune(eng, sm, "many", config(continuous=(), integer=(), categorical=thirty_one), run=False))
    assert "Member must have length less than or equal to 30" in e.response["Error"]["Message"]
    e = error_of(lambda: tune(eng, sm, "x" * 33, config(), run=False))
    assert "failed to satisfy constraint" in e.response["Error"]["Message"]
    tune(eng, sm, "once", config(strategy="Random", jobs=1, parallel=1), run=False)
    e = error_of(lambda: tune(eng, sm, "once", config(), run=False))
    assert e.response["Error"]["Code"] == "ResourceInUse"
    e = error_of(lambda: sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="nope"))
    assert e.response["Error"]["Message"] == "Requested resource not found."
    eng.run_until_idle()


# -- stopping, warm start ---------------------------------------------------------------------------------------
def test_stop_tuning_job_stops_its_children_and_ends_stopped(eng, sm, s3):
    tune(eng, sm, "halt", config(strategy="Random", jobs=6, parallel=2), run=False)
    eng.advance(60)  # both first children are still starting
    sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="halt")
    d = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="halt")
    assert d["HyperParameterTuningJobStatus"] == "Stopping"
    eng.run_until_idle()
    d = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="halt")
    assert d["HyperParameterTuningJobStatus"] == "Stopped" and "HyperParameterTuningEndTime" in d
    kids = children(sm, "halt")
    assert len(kids) == 2 and all(k["TrainingJobStatus"] == "Stopped" for k in kids)
    e = error_of(lambda: sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="halt"))
    assert "in status Stopped" in e.response["Error"]["Message"]


def test_tuning_job_fails_when_its_children_fail_without_an_objective(eng, sm, s3):
    broken = definition(eng, static={"objective": "binary:logistic"})  # num_round missing: fails in the job
    d = tune(eng, sm, "fail", config(strategy="Random", jobs=8, parallel=2), broken)
    assert d["HyperParameterTuningJobStatus"] == "Failed"
    assert d["FailureReason"].startswith("One or more training jobs failed with ClientError.")
    kids = children(sm, "fail")
    assert len(kids) < 8  # it gave up instead of launching the whole budget
    assert d["TrainingJobStatusCounters"]["NonRetryableError"] == sum(k["TrainingJobStatus"] == "Failed"
                                                                      for k in kids) >= 3
    assert d["ObjectiveStatusCounters"] == {"Succeeded": 0, "Pending": 0, "Failed": len(kids)}
    assert all(k["ObjectiveStatus"] == "Failed" for k in kids) and "BestTrainingJob" not in d
    assert "num_round" in [k for k in kids if k["TrainingJobStatus"] == "Failed"][0]["FailureReason"]


def test_warm_start_needs_terminal_parents_with_the_same_objective_and_hyperparameters(eng, sm, s3):
    tune(eng, sm, "parent", config(strategy="Random", jobs=3, parallel=3), run=False)
    warm = {"ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "parent"}],
            "WarmStartType": "IdenticalDataAndAlgorithm"}
    e = error_of(lambda: tune(eng, sm, "early-child", config(), WarmStartConfig=warm, run=False))
    assert "is in status InProgress" in e.response["Error"]["Message"]
    eng.run_until_idle()
    e = error_of(lambda: tune(eng, sm, "c1", config(metric="validation:auc", kind="Maximize"),
                              WarmStartConfig=warm, run=False))
    assert "objective metric" in e.response["Error"]["Message"]
    defn = definition(eng, static={**XGB_STATIC, "lambda": "1"})
    e = error_of(lambda: tune(eng, sm, "c2", config(), defn, WarmStartConfig=warm, run=False))
    assert e.response["Error"]["Message"].startswith(
        "The set of tunable plus static HyperParameter names is not the same across current and parent tuning jobs.")
    # a static hyperparameter may become tunable and vice versa, if the set of names stays the same
    defn = definition(eng, static={**XGB_STATIC, "max_depth": "3"})
    d = tune(eng, sm, "c3", config(jobs=2, integer=()), defn, WarmStartConfig=warm)
    assert d["HyperParameterTuningJobStatus"] == "Completed" and d["WarmStartConfig"] == warm


def test_warm_started_bayesian_job_starts_from_its_parents_knowledge(eng, sm, s3):
    parent = tune(eng, sm, "p", config(strategy="Random", jobs=8, parallel=4))
    warm = {"ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "p"}],
            "WarmStartType": "TransferLearning"}
    d = tune(eng, sm, "w", config(jobs=3, parallel=1), WarmStartConfig=warm)
    kids = children(sm, "w", SortBy="CreationTime")
    parent_best = objective(parent["BestTrainingJob"])
    parent_values = sorted(objective(k) for k in children(sm, "p"))
    # no random initial design: the first suggestion already exploits what the parent learned
    assert objective(kids[0]) < parent_values[len(parent_values) // 2]
    assert objective(d["BestTrainingJob"]) <= parent_best * 1.05
    overall = d["OverallBestTrainingJob"]
    assert objective(overall) == min(parent_best, objective(d["BestTrainingJob"]))
    assert overall["TuningJobName"] in ("p", "w")


# -- money and determinism -------------------------------------------------------------------------------------
def test_children_are_billed_and_spot_passes_through(eng, sm, s3):
    eng.faults.natural_spot_interruptions(False)
    tune(eng, sm, "spot", config(strategy="Random", jobs=3, parallel=3), definition(eng, spot=True))
    for k in children(sm, "spot"):
        t = sm.describe_training_job(TrainingJobName=k["TrainingJobName"])
        assert t["EnableManagedSpotTraining"] is True
        assert t["BillableTimeInSeconds"] < t["TrainingTimeInSeconds"]
        [li] = eng.bill().for_resource(f"training-job/{k['TrainingJobName']}")
        assert li.pricing_model == "spot" and li.quantity == t["BillableTimeInSeconds"]
    assert eng.bill().total > 0


def _run_twice(strategy: str, **cfg_extra) -> list[tuple]:
    out = []
    for _ in range(2):
        eng = Engine(seed=7)
        sm = eng.client("sagemaker")
        eng.client("s3").create_bucket(Bucket="my-bucket")
        d = tune(eng, sm, "same", config(strategy=strategy, jobs=6, parallel=2, **cfg_extra))
        out.append(([(k["TrainingJobName"], k["TunedHyperParameters"], objective(k)) for k in children(sm, "same")],
                    d["BestTrainingJob"]["TrainingJobName"]))
    return out


def test_the_same_seed_and_calls_give_the_same_children_and_best_job():
    first, second = _run_twice("Bayesian")
    assert first == second


def test_random_seed_makes_suggestions_reproducible_across_tuning_jobs(eng, sm, s3):
    for name in ("seed-a", "seed-b"):
        tune(eng, sm, name, config(strategy="Random", jobs=4, parallel=4, RandomSeed=42), run=False)
    eng.run_until_idle()
    a = [k["TunedHyperParameters"] for k in children(sm, "seed-a", SortBy="CreationTime")]
    b = [k["TunedHyperParameters"] for k in children(sm, "seed-b", SortBy="CreationTime")]
    assert a == b
    tune(eng, sm, "seed-c", config(strategy="Random", jobs=4, parallel=4, RandomSeed=43))
    assert [k["TunedHyperParameters"] for k in children(sm, "seed-c", SortBy="CreationTime")] != a


def test_tuning_definition_is_described_with_the_resource_config_and_metric_definitions_sdk_attach_reads(eng, sm, s3):
    defn = definition(eng)
    del defn["ResourceConfig"]
    defn["HyperParameterTuningResourceConfig"] = {"InstanceType": "ml.m5.large", "InstanceCount": 1,
                                                  "VolumeSizeInGB": 20}
    d = tune(eng, sm, "hrc", config(jobs=2, parallel=1), defn)
    described = d["TrainingJobDefinition"]
    assert described["HyperParameterTuningResourceConfig"] == defn["HyperParameterTuningResourceConfig"]
    assert described["ResourceConfig"] == {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 20}
    # as DescribeTrainingJob: the built-in's own metric definitions, which the SDK's attach also reads
    assert "validation:logloss" in {m["Name"] for m in described["AlgorithmSpecification"]["MetricDefinitions"]}
    [child] = children(sm, "hrc")[:1]
    job = sm.describe_training_job(TrainingJobName=child["TrainingJobName"])
    assert job["ResourceConfig"]["InstanceType"] == "ml.m5.large" and job["TrainingJobStatus"] == "Completed"
