"""Ground Truth automated data labeling on digits (and tickets): how many objects needed humans, how right the machine was.

For each seed, a labeling job with active learning on ``digits-images`` (1,797 8x8 PNGs) through the
engine's own API: the public crowd, 3 workers per object, MaxConcurrentTaskCount 200. The output
manifest is read back from S3 and compared with the true labels (``labels.json``):

* human share = HumanLabeled / total objects;
* machine-label accuracy = the share of machine-labeled objects whose label is the true one;
* human-label accuracy = the same for the consolidated human labels.

Target (docs/labeling.md): at most 50% human-labeled at 95% or better machine-label accuracy.

    python benchmarks/active_learning.py [--seeds 0 1 2 3 4 5 6 7] [--dataset digits-images|tickets]
        [--workers 3] [--concurrency 200] [--workteam public|private]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine import Engine  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/SageMakerExecutionRole"
PUBLIC = "arn:aws:sagemaker:us-east-1:394669845002:workteam/public-crowd/default"
ALGORITHM = "arn:aws:sagemaker:us-east-1:027400017018:labeling-job-algorithm-specification/{}"
LAMBDA = "arn:aws:lambda:us-east-1:432418664414:function:{}"


def request(dataset: str, workers: int, concurrency: int, workteam: str) -> dict:
    kind = "Image" if dataset.startswith("digits") else "Text"
    htc = {"WorkteamArn": workteam, "UiConfig": {"UiTemplateS3Uri": "s3://bench/template.liquid"},
           "PreHumanTaskLambdaArn": LAMBDA.format(f"PRE-{kind}MultiClass"),
           "AnnotationConsolidationConfig": {"AnnotationConsolidationLambdaArn": LAMBDA.format(f"ACS-{kind}MultiClass")},
           "TaskTitle": "Classify", "TaskDescription": "Pick the class", "NumberOfHumanWorkersPerDataObject": workers,
           "TaskTimeLimitInSeconds": 300, "MaxConcurrentTaskCount": concurrency}
    if workteam == PUBLIC:
        htc["PublicWorkforceTaskPrice"] = {"AmountInUsd": {"Dollars": 0, "Cents": 1, "TenthFractionsOfACent": 2}}
    return {"LabelingJobName": "bench", "LabelAttributeName": "label",
            "InputConfig": {"DataSource": {"S3DataSource": {
                "ManifestS3Uri": f"s3://sagetutor-datasets/{dataset}/manifest/input.manifest"}}},
            "OutputConfig": {"S3OutputPath": "s3://bench/out"}, "RoleArn": ROLE,
            "LabelCategoryConfigS3Uri": f"s3://sagetutor-datasets/{dataset}/manifest/label-categories.json",
            "HumanTaskConfig": htc,
            "LabelingJobAlgorithmsConfig": {"LabelingJobAlgorithmSpecificationArn": ALGORITHM.format(
                "image-classification" if kind == "Image" else "text-classification")}}


def run(seed: int, dataset: str, workers: int, concurrency: int, workteam: str) -> dict:
    eng = Engine(seed=seed)
    sm, s3 = eng.client("sagemaker"), eng.client("s3")
    s3.create_bucket(Bucket="bench")
    if workteam == "private":
        member = {"CognitoMemberDefinition": {"UserPool": "us-east-1_abc123", "UserGroup": "labelers",
                                              "ClientId": "client"}}
        workteam = sm.create_workteam(WorkteamName="bench-team", MemberDefinitions=[member],
                                      Description="benchmark team")["WorkteamArn"]
    t0 = time.perf_counter()
    sm.create_labeling_job(**request(dataset, workers, concurrency, workteam))
    eng.run_until_idle()
    wall = time.perf_counter() - t0
    d = sm.describe_labeling_job(LabelingJobName="bench")
    truth = json.loads(s3.get_object(Bucket="sagetutor-datasets", Key=f"{dataset}/manifest/labels.json")["Body"].read())
    source = s3.get_object(Bucket="sagetutor-datasets", Key=f"{dataset}/manifest/input.manifest")["Body"].read()
    inputs = [json.loads(line) for line in source.decode().splitlines()]
    out = s3.get_object(Bucket="bench", Key="out/bench/manifests/output/output.manifest")["Body"].read().decode()
    right = {"yes": 0, "no": 0}
    count = {"yes": 0, "no": 0}
    index = -1
    for raw in out.splitlines():  # the output keeps the input's order (unlabeled objects left out)
        rec = json.loads(raw)
        meta = rec.pop("label-metadata")
        rec.pop("label")
        index += 1
        while inputs[index] != rec:
            index += 1
        count[meta["human-annotated"]] += 1
        right[meta["human-annotated"]] += meta["class-name"] == truth[str(index)]
    c = d["LabelCounters"]
    total = len(inputs)
    bill = eng.bill()
    return {"seed": seed, "status": d["LabelingJobStatus"], "human_share": c["HumanLabeled"] / total,
            "machine": c["MachineLabeled"], "machine_acc": right["no"] / count["no"] if count["no"] else float("nan"),
            "human_acc": right["yes"] / count["yes"] if count["yes"] else float("nan"),
            "hours": (d["LastModifiedTime"] - d["CreationTime"]).total_seconds() / 3600,
            "usd": float(bill.total), "wall": wall}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5, 6, 7])
    ap.add_argument("--dataset", default="digits-images", choices=["digits-images", "tickets"])
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=200)
    ap.add_argument("--workteam", default="public", choices=["public", "private"])
    args = ap.parse_args()
    team = PUBLIC if args.workteam == "public" else "private"
    print(f"{args.dataset}, {args.workteam} work team, {args.workers} worker(s) per object, "
          f"MaxConcurrentTaskCount {args.concurrency}")
    print(f"{'seed':>4} {'status':>9} {'human share':>11} {'machine':>7} {'machine acc':>11} {'human acc':>9} "
          f"{'hours':>6} {'USD':>8} {'wall s':>6}")
    rows = []
    for seed in args.seeds:
        r = run(seed, args.dataset, args.workers, args.concurrency, team)
        rows.append(r)
        machine_acc = f"{r['machine_acc']:.1%}" if r["machine"] else "-"
        print(f"{r['seed']:>4} {r['status']:>9} {r['human_share']:>11.1%} {r['machine']:>7} {machine_acc:>11} "
              f"{r['human_acc']:>9.1%} {r['hours']:>6.2f} {r['usd']:>8.2f} {r['wall']:>6.1f}")
    share = [r["human_share"] for r in rows]
    acc = [r["machine_acc"] for r in rows if r["machine"]]
    none = len(rows) - len(acc)
    print(f"human share: mean {statistics.mean(share):.1%}, max {max(share):.1%}; machine-label accuracy: "
          + (f"mean {statistics.mean(acc):.1%}, min {min(acc):.1%}" if acc else "no machine labels")
          + (f"; {none} seed(s) without machine labels" if none else ""))
    ok = not none and all(s <= 0.5 for s in share) and all(a >= 0.95 for a in acc)
    print(f"target (human share <= 50% and machine-label accuracy >= 95% on every seed): {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
