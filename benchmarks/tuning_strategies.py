"""Tuning strategies compared: jobs needed to get within 1% of the best objective found.

Two problems where hyperparameters matter, each a seeded synthetic binary classification set with
label noise (sklearn.datasets.make_classification), uploaded as CSV to the engine's S3:

* xgboost: validation:logloss (Minimize) over wide log-scaled eta, min_child_weight, lambda and an
  integer max_depth;
* linear-learner: validation:objective_loss (Minimize) over log-scaled learning_rate [1e-4, 0.03],
  wd and l1 [1e-6, 1].

Linear Learner's learning_rate stops at 0.03 because above it the objective is mostly noise: the
engine's SGD takes one step per row in a seeded order that depends on the job's name, so the same
hyperparameters under twelve names spread with a standard deviation of 0.04-0.14% at lr <= 0.03,
0.5% at 0.1, 1.8% at 0.3 and 5% at 1. With the range up to 1 the target was a lucky draw from that
region (1% below the best mean any hyperparameters reach), so the score measured luck, not search.
The cap was chosen on that noise measurement alone, before any strategy ran on it (docs/tuning.md).

For every problem and seed, each strategy gets the same budget of training jobs, one at a time:
the engine's Bayesian and Random tuning jobs (MaxParallelTrainingJobs=1, RandomSeed=seed), and
Optuna's default TPE sampler driving the same engine training jobs (Optuna asks, the script runs
CreateTrainingJob with those hyperparameters and tells Optuna the job's final metric). The target
of a problem is the best objective ANY strategy found for it on the seeds scored; a run's score is
the number of training jobs (in creation order) it needed to come within 1% (relative) of the
target, budget + 1 when it never did.

Forty seeds, and the table for each half on its own as well (its own target): settings were once
chosen on seeds 1-20 and fresh seeds 21-40 did not confirm them, so both halves are printed. The
budget is 50 jobs. With 30, Random (and TPE) never came within 1% in most runs of both problems,
so their score was mostly the cap (31) and the comparison measured where the runs were cut off
rather than how many jobs they needed; at 50 Random still misses in most runs, so its mean stays
an underestimate and the ratio errs in Random's favour.

    python benchmarks/tuning_strategies.py [--seeds 40] [--first-seed 1] [--jobs 50]
        [--problems xgboost,linear-learner] [--save runs.json] [--load runs.json ...]

``--save`` writes every run's objective values after each seed; ``--load`` tabulates saved runs
(several files merge, e.g. the two problems run as two processes on two cores) without running.

Needs optuna (``pip install optuna``); it is not a dependency of SageTutor. Target (the issue's):
Bayesian needs at most 60% of Random's jobs on average, i.e. the ratio averaged over the problems
is at most 0.60; the summary line also says which problems are above 0.60 on their own.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine import Engine  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/SageMakerExecutionRole"
BUCKET = "bench"
STRATEGIES = ("Bayesian", "Random", "TPE")


def _log(name: str, low: float, high: float) -> dict:
    return {"Name": name, "MinValue": repr(low), "MaxValue": repr(high), "ScalingType": "Logarithmic"}


PROBLEMS = {
    "xgboost": {
        "data": dict(n_samples=8000, n_features=20, n_informative=6, n_redundant=4, flip_y=0.1, class_sep=0.7,
                     random_state=11),
        "train_rows": 2000,
        "static": {"objective": "binary:logistic", "num_round": "60", "eval_metric": "logloss"},
        "metric": "validation:logloss",
        "ranges": {"ContinuousParameterRanges": [_log("eta", 0.001, 1.0), _log("min_child_weight", 0.1, 100.0),
                                                 _log("lambda", 0.001, 10.0)],
                   "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "1", "MaxValue": "10",
                                               "ScalingType": "Linear"}]},
    },
    "linear-learner": {
        "data": dict(n_samples=6400, n_features=120, n_informative=6, n_redundant=2, flip_y=0.05, class_sep=0.8,
                     random_state=12),
        "train_rows": 400,
        "static": {"predictor_type": "binary_classifier", "epochs": "8", "mini_batch_size": "200"},
        "metric": "validation:objective_loss",
        "ranges": {"ContinuousParameterRanges": [_log("learning_rate", 1e-4, 0.03), _log("wd", 1e-6, 1.0),
                                                 _log("l1", 1e-6, 1.0)]},
    },
}


def _upload(eng: Engine, problem: str) -> None:
    from sklearn.datasets import make_classification

    x, y = make_classification(**PROBLEMS[problem]["data"])
    rows = np.column_stack([y, x])
    cut = PROBLEMS[problem]["train_rows"]  # the rest validates: a large validation set makes the objective a
    # smooth function of the hyperparameters rather than of which few rows a model happens to get right
    s3 = eng.client("s3")
    if BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=BUCKET)
    for part, data in (("train", rows[:cut]), ("validation", rows[cut:])):
        buf = io.StringIO()
        np.savetxt(buf, data, delimiter=",", fmt="%.6g")
        s3.put_object(Bucket=BUCKET, Key=f"{problem}/{part}/data.csv", Body=buf.getvalue().encode())


def _definition(eng: Engine, problem: str) -> dict:
    chans = [{"ChannelName": c, "ContentType": "text/csv",
              "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/{problem}/{c}/"}}}
             for c in ("train", "validation")]
    return {"StaticHyperParameters": dict(PROBLEMS[problem]["static"]),
            "AlgorithmSpecification": {"TrainingImage": eng.image_uri(problem), "TrainingInputMode": "File"},
            "RoleArn": ROLE, "InputDataConfig": chans,
            "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/output"},
            "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
            "StoppingCondition": {"MaxRuntimeInSeconds": 7200}}


def engine_strategy(eng: Engine, problem: str, strategy: str, seed: int, jobs: int) -> list[float]:
    """Objective of each child of an engine tuning job, in creation order (nan when none)."""
    sm = eng.client("sagemaker")
    name = f"{problem[:2]}-{strategy[:3].lower()}-{seed}"
    cfg = {"Strategy": strategy, "RandomSeed": seed,
           "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": PROBLEMS[problem]["metric"]},
           "ResourceLimits": {"MaxNumberOfTrainingJobs": jobs, "MaxParallelTrainingJobs": 1},
           "ParameterRanges": PROBLEMS[problem]["ranges"]}
    sm.create_hyper_parameter_tuning_job(HyperParameterTuningJobName=name, HyperParameterTuningJobConfig=cfg,
                                         TrainingJobDefinition=_definition(eng, problem))
    eng.run_until_idle()
    pages = sm.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job")
    out = []
    for page in pages.paginate(HyperParameterTuningJobName=name, SortBy="CreationTime", SortOrder="Ascending"):
        for s in page["TrainingJobSummaries"]:
            out.append(s.get("FinalHyperParameterTuningJobObjectiveMetric", {}).get("Value", float("nan")))
    return out


def tpe_strategy(eng: Engine, problem: str, seed: int, jobs: int) -> list[float]:
    """Optuna's default TPE sampler asking, engine training jobs answering."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sm = eng.client("sagemaker")
    ranges = PROBLEMS[problem]["ranges"]
    metric = PROBLEMS[problem]["metric"]
    definition = _definition(eng, problem)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    out = []
    for n in range(1, jobs + 1):
        trial = study.ask()
        hp = dict(definition["StaticHyperParameters"])
        for r in ranges.get("ContinuousParameterRanges", []):
            hp[r["Name"]] = repr(trial.suggest_float(r["Name"], float(r["MinValue"]), float(r["MaxValue"]),
                                                     log=r["ScalingType"] == "Logarithmic"))
        for r in ranges.get("IntegerParameterRanges", []):
            hp[r["Name"]] = str(trial.suggest_int(r["Name"], int(r["MinValue"]), int(r["MaxValue"]),
                                                  log=r["ScalingType"] == "Logarithmic"))
        name = f"{problem[:2]}-tpe-{seed}-{n:03d}"
        sm.create_training_job(TrainingJobName=name, RoleArn=ROLE, HyperParameters=hp,
                               AlgorithmSpecification=definition["AlgorithmSpecification"],
                               InputDataConfig=definition["InputDataConfig"],
                               OutputDataConfig=definition["OutputDataConfig"],
                               ResourceConfig=definition["ResourceConfig"],
                               StoppingCondition=definition["StoppingCondition"])
        eng.run_until_idle()
        d = sm.describe_training_job(TrainingJobName=name)
        values = {m["MetricName"]: m["Value"] for m in d.get("FinalMetricDataList", [])}
        value = values.get(metric, float("nan"))
        out.append(value)
        if np.isfinite(value):
            study.tell(trial, value)
        else:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
    return out


def jobs_to_target(values: list[float], target: float, budget: int) -> int:
    """1-based index of the first job within 1% (relative) of ``target`` (minimisation), else budget + 1."""
    for i, v in enumerate(values, start=1):
        if np.isfinite(v) and v <= target + 0.01 * abs(target):
            return i
    return budget + 1


def table(runs: dict[tuple[str, str, int], list[float]], problems: list[str], seeds: list[int],
          jobs: int) -> None:
    """Print the table for ``seeds`` (the target is the best any strategy found on those seeds) and the
    Bayesian / Random ratio averaged over the problems."""
    print("| Problem | Target (best found) | Bayesian | Random | TPE (Optuna) | Bayesian / Random |")
    print("|---|---|---|---|---|---|")
    ratios = []
    for problem in problems:
        target = min(np.nanmin(runs[(problem, st, s)]) for st in STRATEGIES for s in seeds)
        cells, means = [], {}
        for strategy in STRATEGIES:
            counts = [jobs_to_target(runs[(problem, strategy, s)], target, jobs) for s in seeds]
            means[strategy] = statistics.mean(counts)
            missed = sum(c > jobs for c in counts)
            cells.append(f"{means[strategy]:.1f}" + (f" ({missed} missed)" if missed else ""))
        ratio = means["Bayesian"] / means["Random"]
        ratios.append(ratio)
        print(f"| {problem} | {target:.5f} | {' | '.join(cells)} | {ratio:.2f} |")
    overall = statistics.mean(ratios)
    above = [p for p, r in zip(problems, ratios, strict=True) if r > 0.60]
    print(f"\nMean jobs to within 1% of the target over seeds {seeds[0]}-{seeds[-1]}; a run that never got there "
          f"counts {jobs + 1} ('missed'). Bayesian / Random averaged over problems: {overall:.2f} "
          f"(target <= 0.60 on average: {'met' if overall <= 0.60 else 'NOT met'}"
          + (f"; above 0.60 on its own: {', '.join(above)}" if above else "") + ").\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=40, help="how many seeds (default 40)")
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=50)
    ap.add_argument("--problems", default=",".join(PROBLEMS))
    ap.add_argument("--save", type=Path, help="write every run's objective values (JSON) here")
    ap.add_argument("--load", type=Path, nargs="+",
                    help="tabulate runs saved by --save (several files merge) instead of running")
    args = ap.parse_args()
    problems = [p for p in args.problems.split(",") if p]
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    runs: dict[tuple[str, str, int], list[float]] = {}
    if args.load:
        for path in args.load:
            for row in json.loads(path.read_text()):
                runs[(row["problem"], row["strategy"], row["seed"])] = [float(v) for v in row["values"]]
        problems = [p for p in problems if any(k[0] == p for k in runs)]
        seeds = sorted(s for s in {k[2] for k in runs}  # the seeds every problem and strategy has
                       if all((p, st, s) in runs for p in problems for st in STRATEGIES))
        args.jobs = max(len(v) for v in runs.values())  # the budget the saved runs had
    else:
        t0 = time.perf_counter()
        for problem in problems:
            for seed in seeds:
                eng = Engine(seed=seed)
                _upload(eng, problem)
                for strategy in STRATEGIES:
                    t = time.perf_counter()
                    if strategy == "TPE":
                        values = tpe_strategy(eng, problem, seed, args.jobs)
                    else:
                        values = engine_strategy(eng, problem, strategy, seed, args.jobs)
                    runs[(problem, strategy, seed)] = values
                    print(f"  {problem:15s} seed {seed} {strategy:8s} best {np.nanmin(values):.5f}  "
                          f"({time.perf_counter() - t:.1f} s)", file=sys.stderr)
                if args.save:  # after every seed, so a long run that is cut short keeps what it did
                    args.save.write_text(json.dumps(
                        [{"problem": p, "strategy": st, "seed": s, "values": v} for (p, st, s), v in runs.items()]))
        print(f"\n{len(runs)} runs of {args.jobs} training jobs in {time.perf_counter() - t0:.0f} s wall time\n")
    table(runs, problems, seeds, args.jobs)
    if len(seeds) >= 40:  # halves, each scored on its own (its own target), as a run of 20 seeds would be
        half = len(seeds) // 2
        for part in (seeds[:half], seeds[half:]):
            print(f"Seeds {part[0]}-{part[-1]} on their own:")
            table(runs, problems, part, args.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
