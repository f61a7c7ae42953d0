"""Script mode and bring-your-own-container: the learner's own Python really runs, safely.

Most tests drive the public engine as a learner would (boto3-shaped clients); the
archive checks and toolkit conventions are also pinned directly on the helpers.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import pytest
from botocore.exceptions import WaiterError

from engine import artifacts
from engine.algorithms.base import AlgorithmClientError, AlgorithmError
from engine.services.sagemaker import containers

SCRIPTS = Path(__file__).resolve().parent / "fixtures" / "scripts"
ROLE = "arn:aws:iam::123456789012:role/SageMakerExecutionRole"
ACCOUNT = "123456789012"
CODE_URI = "s3://my-bucket/code/sourcedir.tar.gz"
ACCURACY = [{"Name": "validation:accuracy", "Regex": "validation accuracy: ([0-9.]+)"}]
BYOC_METRICS = [{"Name": "train:accuracy", "Regex": r"train_accuracy=([0-9.]+)"},
                {"Name": "validation:accuracy", "Regex": r"validation_accuracy=([0-9.]+)"}]


# -- builders -------------------------------------------------------------------------------
def archive(files: dict[str, bytes]) -> bytes:
    """A sourcedir.tar.gz as `tar -czf sourcedir.tar.gz -C dir .` would make it."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def script(name: str) -> bytes:
    return (SCRIPTS / name).read_bytes()


def upload_code(s3, files: dict[str, bytes], key: str = "code/sourcedir.tar.gz") -> None:
    s3.put_object(Bucket="my-bucket", Key=key, Body=archive(files))


def channels() -> list[dict]:
    return [{"ChannelName": name, "ContentType": "text/csv",
             "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                             "S3Uri": f"s3://sagetutor-datasets/breast-cancer/{name}/"}}}
            for name in ("train", "validation")]


def script_job(eng, name: str, program: str, *, hps: dict | None = None, metrics=ACCURACY, role: str = ROLE,
               environment: dict | None = None) -> dict:
    req = {
        "TrainingJobName": name,
        "RoleArn": role,
        "AlgorithmSpecification": {"TrainingImage": eng.image_uri("sklearn"), "TrainingInputMode": "File",
                                   "MetricDefinitions": metrics},
        "HyperParameters": {"sagemaker_program": json.dumps(program), "sagemaker_submit_directory":
                            json.dumps(CODE_URI), **(hps or {})},
        "InputDataConfig": channels(),
        "OutputDataConfig": {"S3OutputPath": "s3://my-bucket/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }
    if environment:
        req["Environment"] = environment
    return req


def byoc_job(name: str, image: str, hps: dict | None = None) -> dict:
    return {
        "TrainingJobName": name,
        "RoleArn": ROLE,
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File",
                                   "MetricDefinitions": BYOC_METRICS},
        "HyperParameters": hps or {"epochs": "3"},
        "InputDataConfig": channels(),
        "OutputDataConfig": {"S3OutputPath": "s3://my-bucket/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }


def push_image(ecr, repo: str, sagetutor: dict | None, tag: str = "latest") -> str:
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 0,
                           "digest": "sha256:" + "0" * 64},
                "layers": []}
    if sagetutor is not None:
        manifest["sagetutor"] = sagetutor
    ecr.create_repository(repositoryName=repo)
    ecr.put_image(repositoryName=repo, imageTag=tag, imageManifest=json.dumps(manifest))
    return f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/{repo}:{tag}"


def run(sm, req: dict) -> dict:
    sm.create_training_job(**req)
    try:
        sm.get_waiter("training_job_completed_or_stopped").wait(TrainingJobName=req["TrainingJobName"])
    except WaiterError:  # the waiter fails on a Failed job, as boto3's does
        pass
    return sm.describe_training_job(TrainingJobName=req["TrainingJobName"])


def model_files(s3, desc: dict) -> dict[str, bytes]:
    """The files the script left in /opt/ml/model, from the job's model.tar.gz."""
    bucket, key = desc["ModelArtifacts"]["S3ModelArtifacts"][5:].split("/", 1)
    data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    manifest, payload, _ = artifacts.unpack(data)
    with tarfile.open(fileobj=io.BytesIO(payload), mode="r:") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}


def metric(desc: dict, name: str) -> float:
    return {m["MetricName"]: m["Value"] for m in desc.get("FinalMetricDataList", [])}[name]


# -- script mode through the engine ---------------------------------------------------------------
def test_script_mode_runs_the_learners_script_like_the_sklearn_container(eng, sm, s3, monkeypatch):
    monkeypatch.setenv("SAGETUTOR_TEST_SECRET", "do-not-leak")
    upload_code(s3, {"train_logreg.py": script("train_logreg.py")})
    d = run(sm, script_job(eng, "script-1", "train_logreg.py", hps={"C": "1.0"}, environment={"MY_SETTING": "on"}))

    assert d["TrainingJobStatus"] == "Completed", d.get("FailureReason")
    assert metric(d, "validation:accuracy") > 0.9
    assert d["ModelArtifacts"]["S3ModelArtifacts"] == "s3://my-bucket/output/script-1/output/model.tar.gz"
    s3.head_object(Bucket="my-bucket", Key="output/script-1/output/model.tar.gz")

    files = model_files(s3, d)
    assert sorted(files) == ["env.json", "model.json"]
    seen = json.loads(files["env.json"])
    env = seen["env"]
    assert env["SM_CHANNEL_TRAIN"].endswith("/opt/ml/input/data/train")
    assert env["SM_CHANNEL_VALIDATION"].endswith("/opt/ml/input/data/validation")
    assert json.loads(env["SM_CHANNELS"]) == ["train", "validation"]
    assert env["SM_MODEL_DIR"].endswith("/opt/ml/model")
    assert json.loads(env["SM_HPS"]) == {"C": 1.0}
    assert env["SM_HP_C"] == "1.0"
    assert env["SM_CURRENT_HOST"] == "algo-1" and json.loads(env["SM_HOSTS"]) == ["algo-1"]
    assert env["SM_NUM_CPUS"] == "2" and env["SM_NUM_GPUS"] == "0"  # ml.m5.large
    assert env["SM_USER_ENTRY_POINT"] == "train_logreg.py"
    assert json.loads(env["SM_USER_ARGS"]) == ["-C", "1.0"]
    assert json.loads(env["SM_TRAINING_ENV"])["job_name"] == "script-1"
    assert env["PYTHONHASHSEED"] == "0" and env["SM_SEED"].isdigit()
    # The toolkit passes hyperparameters as arguments (a one-letter name as -C), runs in /opt/ml/code.
    assert seen["argv"] == ["-C", "1.0"]
    assert seen["cwd"].endswith("/opt/ml/code")
    assert seen["hyperparameters.json"] == {"C": "1.0"}
    assert seen["resourceconfig.json"]["current_host"] == "algo-1"
    assert seen["train_files"] == ["part-00000.csv", "part-00001.csv", "part-00002.csv", "part-00003.csv"]
    # The job's Environment is passed; the engine's own environment is not.
    assert "MY_SETTING" in seen["other_env"]
    assert "SAGETUTOR_TEST_SECRET" not in seen["other_env"]
    # The script's output is in the job's CloudWatch stream.
    lines = eng.logs_for("/aws/sagemaker/TrainingJobs", "script-1/")
    assert any("validation accuracy: " in line for line in lines)
    assert any(line.startswith("Invoking script with the following command:") for line in lines)


def test_script_mode_is_deterministic(sm, s3, eng):
    from engine import Engine

    upload_code(s3, {"train_logreg.py": script("train_logreg.py")})
    first = run(sm, script_job(eng, "same-1", "train_logreg.py", hps={"C": "0.5"}))
    eng2 = Engine(seed=7)
    sm2, s3b = eng2.client("sagemaker"), eng2.client("s3")
    s3b.create_bucket(Bucket="my-bucket")
    upload_code(s3b, {"train_logreg.py": script("train_logreg.py")})
    second = run(sm2, script_job(eng2, "same-1", "train_logreg.py", hps={"C": "0.5"}))
    assert first["FinalMetricDataList"][0]["Value"] == second["FinalMetricDataList"][0]["Value"]
    assert first["TrainingTimeInSeconds"] == second["TrainingTimeInSeconds"]
    assert model_files(s3, first)["model.json"] == model_files(s3b, second)["model.json"]


def test_a_script_that_exits_1_fails_with_the_toolkits_error(eng, sm, s3):
    upload_code(s3, {"fail_exit.py": script("fail_exit.py")})
    d = run(sm, script_job(eng, "script-fail", "fail_exit.py"))
    assert d["TrainingJobStatus"] == "Failed"
    reason = d["FailureReason"]
    assert reason.startswith("AlgorithmError: ExecuteUserScriptError:\nExitCode 1\nErrorMessage \"Traceback")
    assert "ValueError: could not convert string to float: 'abc'" in reason
    assert reason.endswith(" fail_exit.py\"")
    assert "\nCommand \"" in reason
    lines = eng.logs_for("/aws/sagemaker/TrainingJobs", "script-fail/")
    assert "loading data" in lines


def test_a_script_that_writes_the_failure_file_gives_that_reason(eng, sm, s3):
    upload_code(s3, {"write_failure.py": script("write_failure.py")})
    d = run(sm, script_job(eng, "script-failure-file", "write_failure.py"))
    assert d["TrainingJobStatus"] == "Failed"
    assert d["FailureReason"] == ("AlgorithmError: The train channel has no rows: upload CSV files under the "
                                  "train prefix.")


def test_an_archive_member_outside_the_code_dir_is_refused_by_name(eng, sm, s3):
    upload_code(s3, {"train.py": b"print('hi')\n", "../evil": b"owned\n"})
    d = run(sm, script_job(eng, "script-evil", "train.py"))
    assert d["TrainingJobStatus"] == "Failed"
    assert d["FailureReason"].startswith("ClientError: ")
    assert "'../evil'" in d["FailureReason"]
    assert not (Path.cwd().parent / "evil").exists()


def test_a_role_without_get_object_on_the_code_cannot_fetch_it(eng, sm, s3):
    iam = eng.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": "sagemaker.amazonaws.com"}}]}
    iam.create_role(RoleName="DataOnlyRole", AssumeRolePolicyDocument=json.dumps(trust))
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
         "Resource": ["arn:aws:s3:::sagetutor-datasets", "arn:aws:s3:::sagetutor-datasets/*"]},
        {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": ["arn:aws:s3:::my-bucket/output/*"]}]}
    iam.put_role_policy(RoleName="DataOnlyRole", PolicyName="data", PolicyDocument=json.dumps(policy))
    upload_code(s3, {"train_logreg.py": script("train_logreg.py")})
    role = f"arn:aws:iam::{ACCOUNT}:role/DataOnlyRole"
    d = run(sm, script_job(eng, "script-denied", "train_logreg.py", role=role))
    assert d["TrainingJobStatus"] == "Failed"
    reason = d["FailureReason"]
    assert reason.startswith("ClientError: ")
    assert "AccessDenied" in reason and "s3:GetObject" in reason
    assert "arn:aws:s3:::my-bucket/code/sourcedir.tar.gz" in reason
    assert "assumed-role/DataOnlyRole" in reason


def test_script_mode_without_its_hyperparameters_is_a_client_error(eng, sm, s3):
    req = script_job(eng, "script-nohp", "train.py")
    del req["HyperParameters"]["sagemaker_program"]
    d = run(sm, req)
    assert d["TrainingJobStatus"] == "Failed"
    assert d["FailureReason"].startswith("ClientError: Script mode needs the hyperparameter(s) sagemaker_program")


def test_an_entry_point_missing_from_the_archive_is_named(eng, sm, s3):
    upload_code(s3, {"src/other.py": b"pass\n"})
    d = run(sm, script_job(eng, "script-missing", "train.py"))
    assert d["TrainingJobStatus"] == "Failed"
    assert "sagemaker_program 'train.py' is not in s3://my-bucket/code/sourcedir.tar.gz" in d["FailureReason"]
    assert "src/other.py" in d["FailureReason"]


def test_a_script_running_past_the_real_time_limit_is_stopped(eng, sm, s3, monkeypatch):
    monkeypatch.setattr(containers, "TIMEOUT_SECONDS", 1)
    upload_code(s3, {"slow.py": b"import time\nprint('working', flush=True)\ntime.sleep(60)\n"})
    d = run(sm, script_job(eng, "script-slow", "slow.py"))
    assert d["TrainingJobStatus"] == "Failed"
    assert "SageTutor stopped the script" in d["FailureReason"]
    assert "1 s of real time" in d["FailureReason"]


# -- bring your own container --------------------------------------------------------------------------
def test_byoc_runs_the_train_program_the_manifest_registers(eng, sm, s3):
    image = push_image(eng.client("ecr"), "my-algo", {"train": str(SCRIPTS / "byoc_train.py"), "serve": "",
                                                      "checkpointing": False, "gpu_accelerated": False})
    d = run(sm, byoc_job("byoc-1", image))
    assert d["TrainingJobStatus"] == "Completed", d.get("FailureReason")
    assert metric(d, "validation:accuracy") > 0.9
    assert 0.5 < metric(d, "train:accuracy") <= 1.0
    assert sorted(model_files(s3, d)) == ["weights.json"]
    lines = eng.logs_for("/aws/sagemaker/TrainingJobs", "byoc-1/")
    assert sum("validation_accuracy=" in line for line in lines) == 3
    assert sum("#metrics run=1 " in line for line in lines) == 3  # one record per epoch printed


def test_byoc_manifest_without_a_train_entry_explains_the_format(eng, sm, s3):
    image = push_image(eng.client("ecr"), "plain-image", None)
    d = run(sm, byoc_job("byoc-plain", image))
    assert d["TrainingJobStatus"] == "Failed"
    reason = d["FailureReason"]
    assert reason.startswith("ClientError: ")
    assert "sagetutor.train" in reason and "\"sagetutor\": {\"train\": \"/abs/path/to/train.py\"" in reason
    assert "docs/custom-algorithms.md" in reason


def test_byoc_train_must_be_an_existing_file(eng, sm, s3, tmp_path):
    image = push_image(eng.client("ecr"), "gone", {"train": str(tmp_path / "nope.py")})
    d = run(sm, byoc_job("byoc-gone", image))
    assert d["TrainingJobStatus"] == "Failed"
    assert "does not exist" in d["FailureReason"] and "nope.py" in d["FailureReason"]
    image = push_image(eng.client("ecr"), "relative", {"train": "train.py"})
    d = run(sm, byoc_job("byoc-relative", image))
    assert "must be an absolute path" in d["FailureReason"]


def test_byoc_declaring_checkpointing_syncs_opt_ml_checkpoints(eng, sm, s3, tmp_path):
    program = tmp_path / "ckpt_train.py"
    program.write_text(
        "import os\n"
        "ckpt = os.path.join(os.environ['SAGEMAKER_BASE_DIR'], 'checkpoints', 'step.txt')\n"
        "step = int(open(ckpt).read()) if os.path.exists(ckpt) else 0\n"
        "open(ckpt, 'w').write(str(step + 1))\n"
        "print(f'resumed_step={step}')\n")
    image = push_image(eng.client("ecr"), "ckpt-algo", {"train": str(program), "checkpointing": True})
    for name in ("ckpt-1", "ckpt-2"):
        req = byoc_job(name, image, {})
        req["AlgorithmSpecification"]["MetricDefinitions"] = [{"Name": "resumed", "Regex": "resumed_step=(\\d+)"}]
        req["CheckpointConfig"] = {"S3Uri": "s3://my-bucket/checkpoints/"}
        d = run(sm, req)
        assert d["TrainingJobStatus"] == "Completed", d.get("FailureReason")
    assert metric(d, "resumed") == 1.0  # the second job found the first one's checkpoint in /opt/ml/checkpoints


# -- the helpers, pinned ------------------------------------------------------------------------------
def _raw_tar(add) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        add(tar)
    return buf.getvalue()


@pytest.mark.parametrize("name", ["../evil", "/etc/passwd", "a/../../evil", "..\\evil", "C:/evil"])
def test_unsafe_paths_are_refused_by_name(name):
    data = archive({"train.py": b"", name: b"x"})
    with pytest.raises(AlgorithmClientError, match="unsafe member") as e:
        containers.read_source_archive(data, CODE_URI)
    assert repr(name) in str(e.value)


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.FIFOTYPE, tarfile.CHRTYPE])
def test_links_and_special_files_are_refused(kind):
    def add(tar):
        info = tarfile.TarInfo("data")
        info.type = kind
        info.linkname = "/etc/passwd" if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE) else ""
        tar.addfile(info)

    with pytest.raises(AlgorithmClientError, match="unsafe member 'data'"):
        containers.read_source_archive(_raw_tar(add), CODE_URI)


def test_archive_size_is_bounded(monkeypatch):
    monkeypatch.setattr(containers, "MAX_SOURCE_BYTES", 1000)
    with pytest.raises(AlgorithmClientError, match="expands to more than 1000 bytes"):
        containers.read_source_archive(archive({"a.py": b"x" * 600, "b.py": b"y" * 600}), CODE_URI)
    with pytest.raises(AlgorithmClientError, match="not a readable tar.gz"):
        containers.read_source_archive(b"not a tarball", CODE_URI)


def test_a_compression_bomb_is_refused_before_it_expands(monkeypatch):
    monkeypatch.setattr(containers, "MAX_SOURCE_BYTES", 1000)
    monkeypatch.setattr(containers, "TAR_OVERHEAD_BYTES", 0)
    bomb = archive({"zeros.bin": bytes(10_000_000)})
    assert len(bomb) < 20_000
    with pytest.raises(AlgorithmClientError, match="expands to more than 1000 bytes; SageTutor refuses it"):
        containers.read_source_archive(bomb, CODE_URI)


def test_safe_archives_unpack_in_memory():
    files = containers.read_source_archive(archive({"./train.py": b"a", "pkg/util.py": b"b"}), CODE_URI)
    assert files == {"train.py": b"a", "pkg/util.py": b"b"}


def test_hyperparameters_follow_the_toolkit():
    assert containers._unquote('"train.py"') == "train.py"
    assert containers._unquote("train.py") == "train.py"
    assert containers._unquote("3") == "3"
    assert containers.to_cmd_args({"epochs": 3, "C": 1.0, "lr": "0.1", "opt": {"b": 2, "a": 1}}) == [
        "-C", "1.0", "--epochs", "3", "--lr", "0.1", "--opt", "a=1,b=2"]


def test_the_model_tar_is_deterministic(tmp_path):
    for i, stamp in enumerate((1_000_000, 2_000_000)):
        d = tmp_path / f"m{i}"
        (d / "sub").mkdir(parents=True)
        (d / "b.txt").write_bytes(b"b")
        (d / "sub" / "a.bin").write_bytes(b"a")
        os.symlink("/etc/passwd", d / "link")
        for p in (d / "b.txt", d / "sub" / "a.bin"):
            os.utime(p, (stamp, stamp))
    one, two = containers.tar_directory(tmp_path / "m0"), containers.tar_directory(tmp_path / "m1")
    assert one == two
    with tarfile.open(fileobj=io.BytesIO(one)) as tar:
        assert tar.getnames() == ["b.txt", "sub", "sub/a.bin"]  # links are never followed or kept
        assert {m.mtime for m in tar} == {0}


def test_checkpoints_are_refused_unless_the_manifest_declares_them():
    class _Runner:
        capabilities = type("C", (), {"checkpointing": False})()

    trainer = containers.ContainerTrainer.__new__(containers.ContainerTrainer)
    trainer.runner = _Runner()
    with pytest.raises(AlgorithmError, match="does not support checkpoints"):
        trainer.state()
    with pytest.raises(AlgorithmError, match="does not support checkpoints"):
        trainer.restore(b"")
