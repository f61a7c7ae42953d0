"""Notebook instances and lifecycle configurations.

A notebook instance walks AWS's statuses in virtual time (Pending -> InService -> Stopping ->
Stopped, Deleting, Updating, Failed). It is a *standing* resource: while InService it holds no
busy token (``run_until_idle`` returns while it stands) and is billed by a meter, per
instance-second at the notebook rate, from InService until StopNotebookInstance. Its ML storage
volume is billed per GB-month from creation until deletion, Stopped or not, as AWS bills it.

Lifecycle configuration scripts are not run. Each gets a simulated runtime by a documented rule
(``script_seconds``); a script past 5 minutes fails the create or start, with AWS's FailureReason.
Every script line is logged, at its simulated instant, to CloudWatch Logs group
``/aws/sagemaker/NotebookInstances``, stream ``<instance>/LifecycleConfigOnCreate`` or
``<instance>/LifecycleConfigOnStart``. See docs/notebooks-and-studio.md.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine import timing
from engine.errors import validation
from engine.pricing import hourly_price, instance_spec, unit_price
from engine.services.sagemaker import access, listing

LOG_GROUP = "/aws/sagemaker/NotebookInstances"
#: A lifecycle script that runs longer than this fails the create or start.
SCRIPT_LIMIT_SECONDS = 300
#: The simulated runtime of a script: a base, plus per command line ...
SCRIPT_BASE_SECONDS = 10
LINE_SECONDS = 1
#: ... except these known slow commands (first match wins; ``sleep N`` counts N seconds).
SLOW_COMMANDS: tuple[tuple[str, re.Pattern, int], ...] = (
    ("conda install", re.compile(r"\b(conda|mamba)\s+install\b"), 150),
    ("conda create", re.compile(r"\b(conda|mamba)\s+(env\s+)?(create|update)\b"), 240),
    ("pip install", re.compile(r"\bpip3?\s+install\b|\bpython3?\s+-m\s+pip\s+install\b"), 30),
    ("yum/apt install", re.compile(r"\b(yum|apt-get|apt|dnf)\s+(-\S+\s+)*install\b"), 45),
    ("git clone", re.compile(r"\bgit\s+clone\b"), 5),
    ("aws s3 cp/sync", re.compile(r"\baws\s+s3\s+(cp|sync)\b"), 5),
    ("wget/curl", re.compile(r"\b(wget|curl)\b"), 3),
)
_SLEEP = re.compile(r"^\s*sleep\s+(\d+(?:\.\d+)?)([smhd]?)\s*$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
#: Hours in the month the ML storage rate is prorated over (AWS prorates GB-months by the hour).
HOURS_PER_MONTH = 730
STOPPING_SECONDS = 60
DELETING_SECONDS = 30
UPDATING_SECONDS = 30
SETUP_SECONDS = 90  # attach the ML storage volume, start Jupyter (after the instance launches)


@dataclass(frozen=True)
class ScriptLine:
    text: str
    seconds: float
    why: str


def script_seconds(script: str) -> tuple[float, list[ScriptLine]]:
    """The simulated runtime of a lifecycle script and its lines' shares (docs/notebooks-and-studio.md).

    10 s to start the script, then per command line: ``sleep N`` (s, m, h, d suffixes) counts N
    seconds; a line sent to the background (ending in ``&``, e.g. ``nohup ... &``) counts 1 s, which
    is how AWS tells learners to keep long installs under 5 minutes; a line with a known slow
    command counts its amount (``SLOW_COMMANDS``), once per such command in the line; any other
    command counts 1 s. Blank lines, comments and the shebang count nothing.
    """
    lines: list[ScriptLine] = []
    joined: list[str] = []
    buf = ""
    for raw in script.splitlines():
        if raw.rstrip().endswith("\\"):
            buf += raw.rstrip()[:-1] + " "
            continue
        joined.append(buf + raw)
        buf = ""
    if buf:
        joined.append(buf)
    for text in joined:
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if re.search(r"(?<!&)&\s*(#.*)?$", stripped):
            lines.append(ScriptLine(stripped, LINE_SECONDS, "runs in the background"))
            continue
        total, why = 0.0, []
        for part in re.split(r"&&|\|\||;", stripped):
            part = part.strip()
            if not part:
                continue
            m = _SLEEP.match(part)
            if m:
                total += float(m.group(1)) * _UNIT[m.group(2)]
                why.append("sleep")
                continue
            for label, rx, seconds in SLOW_COMMANDS:
                if rx.search(part):
                    total += seconds
                    why.append(label)
                    break
            else:
                total += LINE_SECONDS
        lines.append(ScriptLine(stripped, total, ", ".join(why) or "command"))
    return SCRIPT_BASE_SECONDS + sum(li.seconds for li in lines), lines


@dataclass
class LifecycleConfig:
    name: str
    arn: str
    on_create: list[dict]
    on_start: list[dict]
    created: float
    last_modified: float


@dataclass
class NotebookInstance:
    name: str
    arn: str
    request: dict[str, Any]
    created: float
    status: str = "Pending"
    last_modified: float = 0.0
    failure: str | None = None
    meter: int | None = None
    storage_meter: int | None = None
    created_ok: bool = False  # OnCreate ran to its end once
    launches: int = 0

    @property
    def instance_type(self) -> str:
        return self.request["InstanceType"]

    @property
    def volume_gb(self) -> int:
        return int(self.request.get("VolumeSizeInGB", 5))

    @property
    def url(self) -> str:
        return f"{self.name.lower()}.notebook.us-east-1.sagemaker.aws"


class Notebooks:
    def __init__(self, world):
        self.world = world
        self.instances: dict[str, NotebookInstance] = {}
        self.lifecycle_configs: dict[str, LifecycleConfig] = {}

    @property
    def clock(self):
        return self.world.clock

    # -- helpers ---------------------------------------------------------------------------
    def _arn(self, name: str) -> str:
        return self.world.arn("sagemaker", f"notebook-instance/{name.lower()}")

    def _lcc_arn(self, name: str) -> str:
        return self.world.arn("sagemaker", f"notebook-instance-lifecycle-config/{name.lower()}")

    def _instance(self, name: str) -> NotebookInstance:
        nb = self.instances.get(name)
        if nb is None:
            raise validation("RecordNotFound")
        return nb

    @staticmethod
    def _refuse(nb: NotebookInstance, allowed: str, target: str):
        return validation(f"Status ({nb.status}) not in ([{allowed}]). Unable to transition to ({target}) for "
                          f"Notebook Instance ({nb.arn}).")

    def _set(self, nb: NotebookInstance, status: str, message: str) -> None:
        nb.status = status
        nb.last_modified = self.clock.seconds
        self.world.event(nb.arn, "status", message, status)

    def _check_type(self, instance_type: str) -> None:
        try:
            hourly_price("notebook", instance_type)
            instance_spec(instance_type)
        except KeyError:
            raise validation(f"Instance type {instance_type} is not supported for notebook instances.") from None

    # -- lifecycle configurations ---------------------------------------------------------------
    def _scripts(self, req: dict) -> tuple[list[dict], list[dict]]:
        out = []
        for hook in ("OnCreate", "OnStart"):
            items = req.get(hook, [])
            for item in items:
                try:
                    base64.b64decode(item["Content"], validate=True).decode("utf-8")
                except (binascii.Error, ValueError):
                    raise validation(f"{hook} Content must be a base64-encoded script (for example "
                                     "base64.b64encode(script.encode()).decode()).") from None
            out.append([{"Content": i["Content"]} for i in items])
        return out[0], out[1]

    def create_notebook_instance_lifecycle_config(self, req: dict, call) -> dict:
        name = req["NotebookInstanceLifecycleConfigName"]
        arn = self._lcc_arn(name)
        if name in self.lifecycle_configs:
            raise validation(f"Unable to create Notebook Instance Lifecycle Config '{arn}'. (Details: Notebook "
                             "Instance Lifecycle Config already exists.)")
        on_create, on_start = self._scripts(req)
        now = self.clock.seconds
        self.lifecycle_configs[name] = LifecycleConfig(name, arn, on_create, on_start, now, now)
        return {"NotebookInstanceLifecycleConfigArn": arn}

    def _lcc(self, name: str, verb: str) -> LifecycleConfig:
        lcc = self.lifecycle_configs.get(name)
        if lcc is None:
            raise validation(f"Unable to {verb} Notebook Instance Lifecycle Config '{self._lcc_arn(name)}'. "
                             "(Details: Notebook Instance Lifecycle Config does not exist.)")
        return lcc

    def describe_notebook_instance_lifecycle_config(self, req: dict, call) -> dict:
        lcc = self._lcc(req["NotebookInstanceLifecycleConfigName"], "describe")
        out = {"NotebookInstanceLifecycleConfigArn": lcc.arn, "NotebookInstanceLifecycleConfigName": lcc.name,
               "CreationTime": self.clock.at(lcc.created), "LastModifiedTime": self.clock.at(lcc.last_modified)}
        if lcc.on_create:
            out["OnCreate"] = lcc.on_create
        if lcc.on_start:
            out["OnStart"] = lcc.on_start
        return out

    def update_notebook_instance_lifecycle_config(self, req: dict, call) -> dict:
        lcc = self._lcc(req["NotebookInstanceLifecycleConfigName"], "update")
        on_create, on_start = self._scripts(req)
        if "OnCreate" in req:
            lcc.on_create = on_create
        if "OnStart" in req:
            lcc.on_start = on_start
        lcc.last_modified = self.clock.seconds
        return {}

    def delete_notebook_instance_lifecycle_config(self, req: dict, call) -> dict:
        lcc = self._lcc(req["NotebookInstanceLifecycleConfigName"], "delete")
        del self.lifecycle_configs[lcc.name]
        return {}

    def list_notebook_instance_lifecycle_configs(self, req: dict, call) -> dict:
        items = list(self.lifecycle_configs.values())
        if "NameContains" in req:
            items = [c for c in items if req["NameContains"].lower() in c.name.lower()]
        at = self.clock.at
        for key, test in (("CreationTimeBefore", lambda c, t: at(c.created) < t),
                          ("CreationTimeAfter", lambda c, t: at(c.created) > t),
                          ("LastModifiedTimeBefore", lambda c, t: at(c.last_modified) < t),
                          ("LastModifiedTimeAfter", lambda c, t: at(c.last_modified) > t)):
            if key in req:
                items = [c for c in items if test(c, req[key])]
        keyf = {"Name": lambda c: c.name, "CreationTime": lambda c: (c.created, c.name),
                "LastModifiedTime": lambda c: (c.last_modified, c.name)}[req.get("SortBy", "CreationTime")]
        items.sort(key=keyf, reverse=req.get("SortOrder", "Ascending") == "Descending")
        page, more = listing.page(items, req)
        out: dict[str, Any] = {"NotebookInstanceLifecycleConfigs": [
            {"NotebookInstanceLifecycleConfigName": c.name, "NotebookInstanceLifecycleConfigArn": c.arn,
             "CreationTime": at(c.created), "LastModifiedTime": at(c.last_modified)} for c in page]}
        out.update(more)
        return out

    # -- notebook instances ----------------------------------------------------------------------
    def create_notebook_instance(self, req: dict, call) -> dict:
        name = req["NotebookInstanceName"]
        arn = self._arn(name)
        if name in self.instances:
            raise validation(f"Cannot create a duplicate Notebook Instance ({arn})")
        self._check_type(req["InstanceType"])
        role = req["RoleArn"]
        if not self.world.services["iam"].can_assume(role):
            raise validation(f"Could not assume role {role}. Please ensure that the role exists and allows principal "
                             "'sagemaker.amazonaws.com' to assume the role.")
        if req.get("DirectInternetAccess") == "Disabled" and not req.get("SubnetId"):
            raise validation("Direct internet access can only be disabled when a SubnetId is provided "
                             "(DirectInternetAccess Disabled requires SubnetId).")
        if req.get("SecurityGroupIds") and not req.get("SubnetId"):
            raise validation("SecurityGroupIds can only be specified together with a SubnetId.")
        if req.get("SubnetId"):
            access.placement(self.world, self._vpc_config(req))
        if req.get("LifecycleConfigName"):
            self._lcc(req["LifecycleConfigName"], "describe")
        nb = NotebookInstance(name, arn, dict(req), self.clock.seconds, last_modified=self.clock.seconds)
        self.instances[name] = nb
        self.world.event(arn, "status", f"Creating notebook instance on {nb.instance_type}", "Pending")
        self._start_storage(nb)
        self.clock.start(self._launch(nb))
        return {"NotebookInstanceArn": arn}

    def _start_storage(self, nb: NotebookInstance) -> None:
        gb_month = unit_price("ml-storage-gb-month").usd
        nb.storage_meter = self.world.ledger.start_meter(
            nb.arn, "sagemaker", "notebook-storage-gb-seconds", gb_month / Decimal(HOURS_PER_MONTH), "on-demand",
            None, nb.volume_gb, unit="GB-second",
            description=f"{nb.volume_gb} GB ML storage volume at ${gb_month} per GB-month ({HOURS_PER_MONTH} h), "
                        "from creation to deletion, Stopped or not")

    def _stop_storage(self, nb: NotebookInstance) -> None:
        if nb.storage_meter is not None:
            self.world.ledger.stop_meter(nb.storage_meter)
            nb.storage_meter = None

    def _launch(self, nb: NotebookInstance):
        """Pending: launch the instance, attach the volume, then OnCreate (first time) and OnStart."""
        env = self.clock.env
        nb.launches += 1
        spec = instance_spec(nb.instance_type)
        u = self.world.spot.draw(nb.instance_type, nb.name, nb.launches, "notebook")
        yield env.timeout(timing.provision_seconds(spec, u) + SETUP_SECONDS)
        if nb.status != "Pending":
            return
        problem = self._secure_launch(nb)
        if problem is not None:
            nb.failure = problem
            self._set(nb, "Failed", problem)
            return
        lcc = self.lifecycle_configs.get(nb.request.get("LifecycleConfigName") or "")
        if lcc is not None:
            hooks = ([("OnCreate", lcc.on_create)] if not nb.created_ok else []) + [("OnStart", lcc.on_start)]
            for hook, scripts in hooks:
                if not scripts:
                    continue
                ok = yield from self._run_script(nb, lcc, hook, scripts[0]["Content"])
                if not ok:
                    return
                if hook == "OnCreate":
                    nb.created_ok = True
        nb.created_ok = True
        nb.failure = None
        self._set(nb, "InService", f"Notebook instance InService (billing {nb.instance_type} per instance-second "
                                   "from now, used or not)")
        price = hourly_price("notebook", nb.instance_type)
        nb.meter = self.world.ledger.start_meter(nb.arn, "sagemaker", "notebook-instance-seconds", price.usd,
                                                 "on-demand", nb.instance_type, 1,
                                                 f"notebook instance on {nb.instance_type} while InService")

    def _vpc_config(self, req: dict) -> dict | None:
        if not req.get("SubnetId"):
            return None
        groups = req.get("SecurityGroupIds")
        if not groups:  # AWS attaches the VPC's default security group
            ec2 = self.world.services["ec2"]
            vpc = ec2.subnet_vpc(req["SubnetId"])
            groups = [ec2.default_security_group(vpc)] if vpc else []
        return {"Subnets": [req["SubnetId"]], "SecurityGroupIds": list(groups)}

    def _secure_launch(self, nb: NotebookInstance) -> str | None:
        """The volume key must be usable by the notebook's role; record where its traffic can go."""
        key = nb.request.get("KmsKeyId")
        if key:
            use = access.use_key(self.world, nb.request["RoleArn"], key, "kms:CreateGrant", nb.arn)
            if not use.allowed:
                return f"Could not use the KMS key {key} for the notebook's ML storage volume: {use.code}: {use.message}"
        access.record_volume(self.world, nb.arn, "notebook-volume", key)
        place = access.placement_or_none(self.world, self._vpc_config(nb.request))
        direct = nb.request.get("DirectInternetAccess", "Enabled") == "Enabled"
        access.record_reach(self.world, nb.arn, place, public="DirectInternetAccess Enabled: SageMaker's network "
                                                              "gives the notebook internet access" if direct else None)
        return None

    def _run_script(self, nb: NotebookInstance, lcc: LifecycleConfig, hook: str, content: str):
        """Log the script line by line at simulated instants; False when it passes the 5-minute limit."""
        env = self.clock.env
        logs = self.world.services["logs"]
        stream = f"{nb.name}/LifecycleConfig{hook}"
        script = base64.b64decode(content).decode("utf-8", "replace")
        total, lines = script_seconds(script)
        logs.write(LOG_GROUP, stream, f"Running lifecycle configuration {lcc.name} ({hook}) as root; simulated "
                                      f"runtime {total:g} s (limit {SCRIPT_LIMIT_SECONDS} s)")
        over = total > SCRIPT_LIMIT_SECONDS
        yield env.timeout(SCRIPT_BASE_SECONDS)
        elapsed = float(SCRIPT_BASE_SECONDS)
        for li in lines:  # each line is logged when it starts, in virtual time
            if nb.status != "Pending":
                return False
            logs.write(LOG_GROUP, stream, f"+ {li.text}")
            step = min(li.seconds, SCRIPT_LIMIT_SECONDS - elapsed) if over else li.seconds
            yield env.timeout(step)
            elapsed += step
            if over and elapsed >= SCRIPT_LIMIT_SECONDS:
                break
        if nb.status != "Pending":
            return False
        if over:
            nb.failure = (f"Notebook Instance Lifecycle Config '{lcc.arn}' for Notebook Instance '{nb.arn}' took "
                          "longer than 5 minutes. Please check your CloudWatch logs for more details if your Notebook "
                          "Instance has Internet access.")
            logs.write(LOG_GROUP, stream, f"Lifecycle configuration {hook} script still running after "
                                          f"{SCRIPT_LIMIT_SECONDS} s: stopped (simulated runtime {total:g} s)")
            self._set(nb, "Failed", f"Lifecycle configuration {hook} script passed 5 minutes ({total:g} s "
                                    "simulated): the notebook instance failed")
            return False
        logs.write(LOG_GROUP, stream, f"Lifecycle configuration {hook} script completed in {total:g} s")
        return True

    def describe_notebook_instance(self, req: dict, call) -> dict:
        nb = self._instance(req["NotebookInstanceName"])
        r = nb.request
        out: dict[str, Any] = {
            "NotebookInstanceArn": nb.arn, "NotebookInstanceName": nb.name, "NotebookInstanceStatus": nb.status,
            "InstanceType": nb.instance_type, "RoleArn": r["RoleArn"],
            "LastModifiedTime": self.clock.at(nb.last_modified), "CreationTime": self.clock.at(nb.created),
            "DirectInternetAccess": r.get("DirectInternetAccess", "Enabled"), "VolumeSizeInGB": nb.volume_gb,
            "RootAccess": r.get("RootAccess", "Enabled"),
            "PlatformIdentifier": r.get("PlatformIdentifier", "notebook-al2-v2"),
            "InstanceMetadataServiceConfiguration": r.get("InstanceMetadataServiceConfiguration",
                                                          {"MinimumInstanceMetadataServiceVersion": "2"}),
        }
        if nb.status in ("InService", "Stopping", "Stopped", "Updating", "Deleting"):
            out["Url"] = nb.url
        if nb.failure:
            out["FailureReason"] = nb.failure
        if r.get("SubnetId"):
            out["SubnetId"] = r["SubnetId"]
            out["SecurityGroups"] = list(r.get("SecurityGroupIds", []))
            digest = hashlib.sha256(nb.arn.encode()).hexdigest()[:17]
            out["NetworkInterfaceId"] = f"eni-{digest}"
        for key, out_key in (("KmsKeyId", "KmsKeyId"), ("LifecycleConfigName", "NotebookInstanceLifecycleConfigName"),
                             ("DefaultCodeRepository", "DefaultCodeRepository"),
                             ("AdditionalCodeRepositories", "AdditionalCodeRepositories"),
                             ("AcceleratorTypes", "AcceleratorTypes"), ("IpAddressType", "IpAddressType")):
            if r.get(key):
                out[out_key] = r[key]
        return out

    def list_notebook_instances(self, req: dict, call) -> dict:
        items = list(self.instances.values())
        at = self.clock.at
        if "NameContains" in req:
            items = [n for n in items if req["NameContains"].lower() in n.name.lower()]
        if "StatusEquals" in req:
            items = [n for n in items if n.status == req["StatusEquals"]]
        if "NotebookInstanceLifecycleConfigNameContains" in req:
            part = req["NotebookInstanceLifecycleConfigNameContains"].lower()
            items = [n for n in items if part in (n.request.get("LifecycleConfigName") or "").lower()]
        if "DefaultCodeRepositoryContains" in req:
            part = req["DefaultCodeRepositoryContains"].lower()
            items = [n for n in items if part in (n.request.get("DefaultCodeRepository") or "").lower()]
        if "AdditionalCodeRepositoryEquals" in req:
            items = [n for n in items if req["AdditionalCodeRepositoryEquals"] in
                     n.request.get("AdditionalCodeRepositories", [])]
        for key, test in (("CreationTimeBefore", lambda n, t: at(n.created) < t),
                          ("CreationTimeAfter", lambda n, t: at(n.created) > t),
                          ("LastModifiedTimeBefore", lambda n, t: at(n.last_modified) < t),
                          ("LastModifiedTimeAfter", lambda n, t: at(n.last_modified) > t)):
            if key in req:
                items = [n for n in items if test(n, req[key])]
        keyf = {"Name": lambda n: n.name, "CreationTime": lambda n: (n.created, n.name),
                "Status": lambda n: (n.status, n.name)}[req.get("SortBy", "Name")]
        items.sort(key=keyf, reverse=req.get("SortOrder", "Ascending") == "Descending")
        page, more = listing.page(items, req)
        rows = []
        for n in page:
            row = {"NotebookInstanceName": n.name, "NotebookInstanceArn": n.arn, "NotebookInstanceStatus": n.status,
                   "InstanceType": n.instance_type, "CreationTime": at(n.created),
                   "LastModifiedTime": at(n.last_modified)}
            if n.status in ("InService", "Stopping", "Stopped", "Updating", "Deleting"):
                row["Url"] = n.url
            for key, out_key in (("LifecycleConfigName", "NotebookInstanceLifecycleConfigName"),
                                 ("DefaultCodeRepository", "DefaultCodeRepository"),
                                 ("AdditionalCodeRepositories", "AdditionalCodeRepositories")):
                if n.request.get(key):
                    row[out_key] = n.request[key]
            rows.append(row)
        out: dict[str, Any] = {"NotebookInstances": rows}
        out.update(more)
        return out

    def stop_notebook_instance(self, req: dict, call) -> dict:
        nb = self._instance(req["NotebookInstanceName"])
        if nb.status != "InService":
            raise self._refuse(nb, "InService", "Stopping")
        if nb.meter is not None:
            self.world.ledger.stop_meter(nb.meter)  # compute billing stops at the call, as AWS documents
            nb.meter = None
        self._set(nb, "Stopping", "Stopping notebook instance (compute billing stops; the ML volume is kept)")
        self.clock.start(self._after(nb, STOPPING_SECONDS, "Stopping", "Stopped", "Notebook instance Stopped"))
        return {}

    def _after(self, nb: NotebookInstance, seconds: float, expect: str, status: str, message: str):
        yield self.clock.env.timeout(seconds)
        if nb.status == expect:
            self._set(nb, status, message)

    def start_notebook_instance(self, req: dict, call) -> dict:
        nb = self._instance(req["NotebookInstanceName"])
        if nb.status not in ("Stopped", "Failed"):
            raise self._refuse(nb, "Stopped, Failed", "Pending")
        nb.failure = None
        self._set(nb, "Pending", f"Starting notebook instance on {nb.instance_type}")
        self.clock.start(self._launch(nb))
        return {}

    def delete_notebook_instance(self, req: dict, call) -> dict:
        nb = self._instance(req["NotebookInstanceName"])
        if nb.status not in ("Stopped", "Failed"):
            raise self._refuse(nb, "Stopped, Failed", "Deleting")
        self._stop_storage(nb)
        self._set(nb, "Deleting", "Deleting notebook instance and its ML storage volume")
        self.clock.start(self._remove(nb))
        return {}

    def _remove(self, nb: NotebookInstance):
        yield self.clock.env.timeout(DELETING_SECONDS)
        if self.instances.get(nb.name) is nb:
            del self.instances[nb.name]

    def update_notebook_instance(self, req: dict, call) -> dict:
        nb = self._instance(req["NotebookInstanceName"])
        if nb.status != "Stopped":
            raise self._refuse(nb, "Stopped", "Updating")
        r = dict(nb.request)
        if "InstanceType" in req:
            self._check_type(req["InstanceType"])
        if "RoleArn" in req and not self.world.services["iam"].can_assume(req["RoleArn"]):
            raise validation(f"Could not assume role {req['RoleArn']}. Please ensure that the role exists and allows "
                             "principal 'sagemaker.amazonaws.com' to assume the role.")
        if "VolumeSizeInGB" in req and req["VolumeSizeInGB"] < nb.volume_gb:
            raise validation(f"The new volume size ({req['VolumeSizeInGB']} GB) must be greater than or equal to the "
                             f"current one ({nb.volume_gb} GB): ML storage volumes can only grow.")
        if req.get("LifecycleConfigName"):
            self._lcc(req["LifecycleConfigName"], "describe")
        for key in ("InstanceType", "RoleArn", "LifecycleConfigName", "VolumeSizeInGB", "DefaultCodeRepository",
                    "AdditionalCodeRepositories", "AcceleratorTypes", "RootAccess", "IpAddressType",
                    "PlatformIdentifier", "InstanceMetadataServiceConfiguration"):
            if key in req:
                r[key] = req[key]
        for flag, key in (("DisassociateLifecycleConfig", "LifecycleConfigName"),
                          ("DisassociateAcceleratorTypes", "AcceleratorTypes"),
                          ("DisassociateDefaultCodeRepository", "DefaultCodeRepository"),
                          ("DisassociateAdditionalCodeRepositories", "AdditionalCodeRepositories")):
            if req.get(flag):
                r.pop(key, None)
        grew = r.get("VolumeSizeInGB", 5) != nb.volume_gb
        if grew:
            self._stop_storage(nb)
        nb.request = r
        if grew:
            self._start_storage(nb)
        self._set(nb, "Updating", "Updating notebook instance")
        self.clock.start(self._after(nb, UPDATING_SECONDS, "Updating", "Stopped", "Notebook instance updated (Stopped)"))
        return {}

    def create_presigned_notebook_instance_url(self, req: dict, call) -> dict:
        name = req["NotebookInstanceName"]
        nb = self._instance(name)
        if nb.status != "InService":
            raise validation(f"Status ({nb.status}) not in ([InService]). Unable to create a presigned URL for "
                             f"Notebook Instance ({nb.arn}).")
        seconds = req.get("SessionExpirationDurationInSeconds", 43200)
        token = hashlib.sha256(f"{self.world.seed}|{nb.arn}|{self.clock.seconds}|{seconds}".encode()).hexdigest()
        return {"AuthorizedUrl": f"https://{nb.url}?authToken={token}"}

