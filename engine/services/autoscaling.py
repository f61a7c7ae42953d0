"""Application Auto Scaling for SageMaker endpoint variants, and the evaluator that runs its policies.

Operations (every public method is one): RegisterScalableTarget, DescribeScalableTargets,
DeregisterScalableTarget, PutScalingPolicy, DescribeScalingPolicies, DeleteScalingPolicy,
DescribeScalingActivities, with AWS's error codes (ValidationException,
ObjectNotFoundException). ResourceId ``endpoint/<endpoint>/variant/<variant>``,
ScalableDimension ``sagemaker:variant:DesiredInstanceCount``. MinCapacity must be at
least 1 for a real-time variant; 0 is allowed for an asynchronous endpoint.

Target tracking, as Application Auto Scaling runs it (docs/deployment.md):

* Every virtual minute the evaluator reads the last complete minute of the policy's
  metric: ``SageMakerVariantInvocationsPerInstance`` (the sum of InvocationsPerInstance
  in that minute), or a CustomizedMetricSpecification read from CloudWatch (for an
  async endpoint, ``ApproximateBacklogSizePerInstance``). A minute with no datapoint
  (SageMaker publishes no zero invocations) leaves both alarms without data.
* AlarmHigh: 3 consecutive datapoints above TargetValue -> scale out to
  ``ceil(current x metric / TargetValue)`` (at least +1, at most MaxCapacity), once
  ScaleOutCooldown (default 300 s) has passed since the last scale-out.
* AlarmLow: 15 consecutive datapoints below 90% of TargetValue -> scale in to
  ``ceil(current x metric / TargetValue)`` (at least MinCapacity), once ScaleInCooldown
  (default 300 s) has passed since the last scaling activity, unless DisableScaleIn.
  With several policies a scale-out follows the largest, a scale-in needs all of them.
* New instances serve (and bill) after a launch and set-up time; scale-in is immediate.

The evaluator is a SimPy process that holds no busy token: ``run_until_idle`` returns
while policies exist; a scale-out being provisioned is a transition and does hold one.

Step scaling policies are stored and described; Application Auto Scaling runs them
when a CloudWatch alarm names them as its action. The engine's CloudWatch has no
alarms yet, so ``execute_step_policy(world, policy_arn, breach)`` is the hook such an
alarm calls (``breach`` = metric value minus the alarm threshold).
"""

from __future__ import annotations

import math
import random
import re
import zlib
from dataclasses import dataclass, field

from engine.clock import EPOCH
from engine.errors import ServiceError

NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
PREDEFINED = "SageMakerVariantInvocationsPerInstance"
RESOURCE = re.compile(r"^endpoint/(?P<endpoint>[^/]+)/variant/(?P<variant>[^/]+)$")
HIGH_DATAPOINTS = 3  # AlarmHigh: 3 datapoints within 3 minutes
LOW_DATAPOINTS = 15  # AlarmLow: 15 datapoints within 15 minutes
LOW_FRACTION = 0.9  # AlarmLow's threshold: 90% of the target value
DEFAULT_COOLDOWN = 300
SERVICE_ROLE = ("arn:aws:iam::{account}:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
                "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint")


def _invalid(message: str) -> ServiceError:
    return ServiceError("ValidationException", message)


def _not_found(message: str) -> ServiceError:
    return ServiceError("ObjectNotFoundException", message)


@dataclass
class Target:
    resource_id: str
    dimension: str
    min: int
    max: int
    arn: str
    role: str
    created: float
    endpoint: str
    variant: str
    suspended: dict = field(default_factory=dict)
    last_out: float = -math.inf  # when the last scale-out completed
    last_in: float = -math.inf  # when the last scale-in completed
    busy: bool = False  # a scaling activity is in progress

    @property
    def key(self) -> tuple[str, str]:
        return self.resource_id, self.dimension


@dataclass
class Policy:
    name: str
    arn: str
    target: tuple[str, str]
    kind: str  # "TargetTrackingScaling" or "StepScaling"
    config: dict
    created: float
    alarms: list[dict] = field(default_factory=list)
    high: int = 0  # consecutive datapoints above the target
    low: int = 0  # consecutive datapoints below 90% of the target
    value: float | None = None  # the last datapoint

    @property
    def target_value(self) -> float:
        return float(self.config["TargetValue"])

    def cooldown(self, which: str) -> float:
        return float(self.config.get(which, DEFAULT_COOLDOWN))


@dataclass
class Activity:
    activity_id: str
    target: tuple[str, str]
    description: str
    cause: str
    start: float
    status: str = "InProgress"
    end: float | None = None
    message: str | None = None


class AutoScaling:
    def __init__(self, world):
        self.world = world
        self._targets: dict[tuple[str, str], Target] = {}
        self._policies: dict[tuple[tuple[str, str], str], Policy] = {}
        self._activities: list[Activity] = []
        self._rng = random.Random(zlib.crc32(f"{world.seed}|application-autoscaling".encode()))
        self._evaluating = False

    @property
    def _hosting(self):
        return self.world.services["sagemaker"].hosting

    def _hex(self, n: int) -> str:
        return f"{self._rng.getrandbits(4 * n):0{n}x}"

    def _uuid(self) -> str:
        h = self._hex(32)
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    # -- checks ---------------------------------------------------------------------------
    def _parse(self, p: dict) -> tuple[str, str, str, str]:
        namespace, resource_id, dimension = p["ServiceNamespace"], p["ResourceId"], p["ScalableDimension"]
        if namespace != NAMESPACE:
            raise _invalid(f"SageTutor simulates Application Auto Scaling for SageMaker endpoint variants only "
                           f"(ServiceNamespace sagemaker), not {namespace}.")
        m = RESOURCE.match(resource_id)
        if dimension != DIMENSION or m is None:
            if dimension.startswith("sagemaker:") and dimension != DIMENSION:
                raise _invalid(f"Scalable dimension {dimension} is not simulated; SageTutor scales endpoint variants "
                               f"by {DIMENSION}.")
            raise _invalid(f"Unsupported service namespace, resource type or scalable dimension: {namespace}, "
                           f"{resource_id}, {dimension} (expected a resource ID endpoint/<endpoint-name>/variant/"
                           f"<variant-name> with {DIMENSION}).")
        return resource_id, dimension, m["endpoint"], m["variant"]

    def _target(self, p: dict) -> Target:
        resource_id, dimension, _, _ = self._parse(p)
        t = self._targets.get((resource_id, dimension))
        if t is None:
            raise _not_found(f"No scalable target registered for service namespace: {NAMESPACE}, resource ID: "
                             f"{resource_id}, scalable dimension: {dimension}")
        return t

    # -- scalable targets --------------------------------------------------------------------
    def register_scalable_target(self, p: dict, call) -> dict:
        resource_id, dimension, endpoint, variant = self._parse(p)
        found = self._hosting.scaling_variant(endpoint, variant)
        if found is None:
            raise _invalid(f"The endpoint variant {resource_id} does not exist: endpoint {endpoint} must exist with "
                           f"a production variant named {variant}.")
        ep, v = found
        if v.serverless:
            raise _invalid(f"Variant {variant} of endpoint {endpoint} is serverless: it has no instances for "
                           f"{DIMENSION} to scale.")
        if v.instance_type.startswith("ml.t2."):
            raise _invalid(f"SageMaker does not support auto scaling for burstable instances such as T2: variant "
                           f"{variant} runs on {v.instance_type}.")
        old = self._targets.get((resource_id, dimension))
        if old is None and ("MinCapacity" not in p or "MaxCapacity" not in p):
            raise _invalid("MinCapacity and MaxCapacity are required to register a new scalable target.")
        lo = p.get("MinCapacity", old.min if old else 1)
        hi = p.get("MaxCapacity", old.max if old else 1)
        if lo < 0 or hi < 0:
            raise _invalid("Minimum and maximum capacity must be zero or greater.")
        if lo > hi:
            raise _invalid(f"Minimum capacity cannot be larger than maximum capacity (MinCapacity {lo}, "
                           f"MaxCapacity {hi}).")
        if lo < 1 and ep.kind != "async":
            raise _invalid(f"The minimum capacity {lo} is not valid for {resource_id}: a real-time endpoint variant "
                           "must keep at least 1 instance. Only asynchronous endpoints (AsyncInferenceConfig) can "
                           "scale to 0 instances.")
        if hi < 1:
            raise _invalid(f"The maximum capacity {hi} is not valid for {resource_id}: it must be at least 1.")
        now = self.world.clock.seconds
        if old is None:
            arn = (f"arn:aws:application-autoscaling:{self.world.region}:{self.world.account}:scalable-target/"
                   f"{self._hex(36)}")
            role = p.get("RoleARN") or SERVICE_ROLE.format(account=self.world.account)
            old = self._targets[(resource_id, dimension)] = Target(resource_id, dimension, lo, hi, arn, role, now,
                                                                   endpoint, variant)
        old.min, old.max = lo, hi
        if "SuspendedState" in p:
            old.suspended = dict(p["SuspendedState"])
        if not old.busy and not (lo <= v.count <= hi):
            bound = "minimum" if v.count < lo else "maximum"
            self._scale(old, ep, v, min(max(v.count, lo), hi), f"{bound} capacity was set to "
                        f"{lo if bound == 'minimum' else hi}")
        return {"ScalableTargetARN": old.arn}

    def describe_scalable_targets(self, p: dict, call) -> dict:
        ids = set(p.get("ResourceIds") or [])
        out = []
        if p["ServiceNamespace"] == NAMESPACE:
            for t in sorted(self._targets.values(), key=lambda t: (t.created, t.resource_id)):
                if (ids and t.resource_id not in ids) or p.get("ScalableDimension", t.dimension) != t.dimension:
                    continue
                out.append({"ServiceNamespace": NAMESPACE, "ResourceId": t.resource_id,
                            "ScalableDimension": t.dimension, "MinCapacity": t.min, "MaxCapacity": t.max,
                            "RoleARN": t.role, "CreationTime": self.world.clock.at(t.created),
                            "SuspendedState": {"DynamicScalingInSuspended": t.suspended.get("DynamicScalingInSuspended", False),
                                               "DynamicScalingOutSuspended": t.suspended.get("DynamicScalingOutSuspended", False),
                                               "ScheduledScalingSuspended": t.suspended.get("ScheduledScalingSuspended", False)},
                            "ScalableTargetARN": t.arn})
        return self._page(p, "ScalableTargets", out)

    def deregister_scalable_target(self, p: dict, call) -> dict:
        resource_id, dimension, _, _ = self._parse(p)
        if (resource_id, dimension) not in self._targets:
            raise _not_found(f"No scalable target found for service namespace: {NAMESPACE}, resource ID: "
                             f"{resource_id}, scalable dimension: {dimension}")
        self._drop((resource_id, dimension))
        return {}

    def _drop(self, key: tuple[str, str]) -> None:
        self._targets.pop(key, None)
        for pk in [pk for pk in self._policies if pk[0] == key]:
            del self._policies[pk]

    @staticmethod
    def _page(p: dict, member: str, items: list) -> dict:
        start = int(p.get("NextToken") or 0)
        size = p.get("MaxResults") or 50
        out = {member: items[start:start + size]}
        if start + size < len(items):
            out["NextToken"] = str(start + size)
        return out

    # -- policies --------------------------------------------------------------------------------
    def put_scaling_policy(self, p: dict, call) -> dict:
        target = self._target(p)
        name = p["PolicyName"]
        kind = p.get("PolicyType", "StepScaling")
        if kind == "TargetTrackingScaling":
            config = self._check_target_tracking(p.get("TargetTrackingScalingPolicyConfiguration"), target)
        elif kind == "StepScaling":
            config = p.get("StepScalingPolicyConfiguration")
            if config is None:
                raise _invalid("StepScalingPolicyConfiguration is required for a policy of type StepScaling.")
            if "AdjustmentType" not in config or not config.get("StepAdjustments"):
                raise _invalid("A step scaling policy needs an AdjustmentType and at least one StepAdjustment.")
        else:
            raise _invalid(f"PolicyType {kind} is not supported for {NAMESPACE} endpoint variants; use "
                           "TargetTrackingScaling or StepScaling.")
        existing = self._policies.get((target.key, name))
        if existing is not None and existing.kind == kind:
            existing.config, existing.high, existing.low = config, 0, 0
            policy = existing
        else:
            uid = self._uuid()
            arn = (f"arn:aws:autoscaling:{self.world.region}:{self.world.account}:scalingPolicy:{uid}:resource/"
                   f"{NAMESPACE}/{target.resource_id}:policyName/{name}")
            policy = Policy(name, arn, target.key, kind, config, self.world.clock.seconds)
            if kind == "TargetTrackingScaling":
                for which in ("AlarmHigh", "AlarmLow"):
                    alarm = f"TargetTracking-{target.resource_id}-{which}-{self._uuid()}"
                    policy.alarms.append({"AlarmName": alarm, "AlarmARN": f"arn:aws:cloudwatch:{self.world.region}:"
                                                                          f"{self.world.account}:alarm:{alarm}"})
            self._policies[(target.key, name)] = policy
        self._start_evaluator()
        out = {"PolicyARN": policy.arn}
        if policy.alarms:
            out["Alarms"] = [dict(a) for a in policy.alarms]
        return out

    def _check_target_tracking(self, config: dict | None, target: Target) -> dict:
        if config is None:
            raise _invalid("TargetTrackingScalingPolicyConfiguration is required for a policy of type "
                           "TargetTrackingScaling.")
        predefined = config.get("PredefinedMetricSpecification")
        custom = config.get("CustomizedMetricSpecification")
        if (predefined is None) == (custom is None):
            raise _invalid("Exactly one of PredefinedMetricSpecification or CustomizedMetricSpecification must be "
                           "specified.")
        if predefined is not None and predefined["PredefinedMetricType"] != PREDEFINED:
            raise _invalid(f"Predefined metric type {predefined['PredefinedMetricType']} is not valid for "
                           f"{target.resource_id} ({DIMENSION}); use {PREDEFINED}.")
        if custom is not None:
            if "Metrics" in custom:
                raise _invalid("Metric math (CustomizedMetricSpecification.Metrics) is not simulated; give "
                               "MetricName, Namespace, Dimensions and Statistic.")
            if not custom.get("MetricName") or not custom.get("Namespace") or not custom.get("Statistic"):
                raise _invalid("CustomizedMetricSpecification needs MetricName, Namespace and Statistic.")
        if config["TargetValue"] <= 0:
            raise _invalid(f"TargetValue must be greater than 0, got {config['TargetValue']}.")
        for key in ("ScaleInCooldown", "ScaleOutCooldown"):
            if config.get(key, 0) < 0:
                raise _invalid(f"{key} must be zero or greater.")
        return config

    def describe_scaling_policies(self, p: dict, call) -> dict:
        names = set(p.get("PolicyNames") or [])
        out = []
        if p["ServiceNamespace"] == NAMESPACE:
            for pol in sorted(self._policies.values(), key=lambda x: (x.created, x.name)):
                resource_id, dimension = pol.target
                if (names and pol.name not in names) or p.get("ResourceId", resource_id) != resource_id \
                        or p.get("ScalableDimension", dimension) != dimension:
                    continue
                item = {"PolicyARN": pol.arn, "PolicyName": pol.name, "ServiceNamespace": NAMESPACE,
                        "ResourceId": resource_id, "ScalableDimension": dimension, "PolicyType": pol.kind,
                        "Alarms": [dict(a) for a in pol.alarms], "CreationTime": self.world.clock.at(pol.created)}
                if pol.kind == "TargetTrackingScaling":
                    item["TargetTrackingScalingPolicyConfiguration"] = pol.config
                else:
                    item["StepScalingPolicyConfiguration"] = pol.config
                out.append(item)
        return self._page(p, "ScalingPolicies", out)

    def delete_scaling_policy(self, p: dict, call) -> dict:
        resource_id, dimension, _, _ = self._parse(p)
        if self._policies.pop(((resource_id, dimension), p["PolicyName"]), None) is None:
            raise _not_found(f"No scaling policy found for service namespace: {NAMESPACE}, resource ID: {resource_id}, "
                             f"scalable dimension: {dimension}, policy name: {p['PolicyName']}")
        return {}

    def describe_scaling_activities(self, p: dict, call) -> dict:
        out = []
        if p["ServiceNamespace"] == NAMESPACE:
            for a in reversed(self._activities):  # newest first, as AWS lists them
                resource_id, dimension = a.target
                if p.get("ResourceId", resource_id) != resource_id or p.get("ScalableDimension", dimension) != dimension:
                    continue
                item = {"ActivityId": a.activity_id, "ServiceNamespace": NAMESPACE, "ResourceId": resource_id,
                        "ScalableDimension": dimension, "Description": a.description, "Cause": a.cause,
                        "StartTime": self.world.clock.at(a.start), "StatusCode": a.status}
                if a.end is not None:
                    item["EndTime"] = self.world.clock.at(a.end)
                if a.message:
                    item["StatusMessage"] = a.message
                out.append(item)
        return self._page(p, "ScalingActivities", out)

    # -- the evaluator ----------------------------------------------------------------------------
    def _start_evaluator(self) -> None:
        if self._evaluating:
            return
        self._evaluating = True
        self.world.clock.env.process(self._evaluate_every_minute())  # not clock.start: holds no busy token

    def _evaluate_every_minute(self):
        clock = self.world.clock
        try:
            yield clock.env.timeout((math.floor(clock.seconds / 60) + 1) * 60 - clock.seconds)
            while any(p.kind == "TargetTrackingScaling" for p in self._policies.values()):
                self._evaluate(clock.seconds)
                yield clock.env.timeout(60)
        finally:
            self._evaluating = False

    def _metric(self, policy: Policy, ep, v, minute: int) -> float | None:
        """The policy's datapoint for one clock minute (None: no data)."""
        custom = policy.config.get("CustomizedMetricSpecification")
        if custom is None:
            return self._hosting.invocations_per_instance(v, minute)
        dims = {d["Name"]: d["Value"] for d in custom.get("Dimensions", [])}
        lo = EPOCH.timestamp() + minute * 60
        values = [val for ts, val in self.world.services["cloudwatch"].points(custom["Namespace"],
                                                                              custom["MetricName"], dims)
                  if lo <= ts < lo + 60]
        if not values:
            return None
        stat = custom.get("Statistic", "Average")
        return {"Average": sum(values) / len(values), "Sum": sum(values), "Minimum": min(values),
                "Maximum": max(values), "SampleCount": float(len(values))}[stat]

    def _evaluate(self, now: float) -> None:
        minute = int(now // 60) - 1  # the last complete minute
        for key in sorted(self._targets):
            target = self._targets[key]
            policies = [p for (tk, _), p in sorted(self._policies.items()) if tk == key
                        and p.kind == "TargetTrackingScaling"]
            found = self._hosting.scaling_variant(target.endpoint, target.variant) if policies else None
            if found is None:
                continue
            ep, v = found
            for p in policies:
                p.value = self._metric(p, ep, v, minute)
                if p.value is None:  # INSUFFICIENT_DATA: neither alarm counts the minute
                    p.high = p.low = 0
                    continue
                p.high = p.high + 1 if p.value > p.target_value else 0
                p.low = p.low + 1 if p.value < LOW_FRACTION * p.target_value else 0
            if target.busy or ep.status != "InService" or v.desired is not None:
                continue
            current = v.count
            outs = [(self._desired(target, current, p), p) for p in policies if p.high >= HIGH_DATAPOINTS]
            outs = [(d, p) for d, p in outs if d > current]
            if outs and not target.suspended.get("DynamicScalingOutSuspended"):
                desired, p = max(outs, key=lambda o: o[0])
                if now >= target.last_out + p.cooldown("ScaleOutCooldown"):
                    self._scale(target, ep, v, desired, self._cause(p, "AlarmHigh"))
                continue
            if policies and all(p.low >= LOW_DATAPOINTS and not p.config.get("DisableScaleIn") for p in policies) \
                    and not target.suspended.get("DynamicScalingInSuspended"):
                desired = max(self._desired(target, current, p) for p in policies)
                cooldown = max(p.cooldown("ScaleInCooldown") for p in policies)
                settle = max(p.cooldown("ScaleOutCooldown") for p in policies)
                if desired < current and now >= target.last_in + cooldown and now >= target.last_out + settle:
                    p = policies[0]
                    self._scale(target, ep, v, desired, self._cause(p, "AlarmLow"))

    @staticmethod
    def _desired(target: Target, current: int, p: Policy) -> int:
        raw = math.ceil(round(max(current, 1) * p.value / p.target_value, 9))
        if p.value > p.target_value:
            raw = max(raw, current + 1)
        return min(max(raw, target.min), target.max)

    @staticmethod
    def _cause(p: Policy, which: str) -> str:
        alarm = next((a["AlarmName"] for a in p.alarms if f"-{which}-" in a["AlarmName"]), which)
        return f"monitor alarm {alarm} in state ALARM triggered policy {p.name}"

    def _scale(self, target: Target, ep, v, desired: int, cause: str) -> None:
        """Start a scaling activity; it succeeds when the variant has the new count."""
        now = self.world.clock.seconds
        activity = Activity(self._uuid(), target.key, f"Setting desired instance count to {desired}.", cause, now)
        self._activities.append(activity)
        target.busy = True
        out = desired > v.count

        def done() -> None:
            end = self.world.clock.seconds
            activity.status, activity.end = "Successful", end
            activity.message = (f"Successfully set desired instance count to {desired}. Change successfully "
                                f"fulfilled by {NAMESPACE}.")
            target.busy = False
            if out:
                target.last_out = end
            else:
                target.last_in = end

        self.world.event(ep.arn, "scaling", f"Application Auto Scaling: setting desired instance count of variant "
                                            f"{v.name} to {desired} ({cause})")
        self._hosting.set_instance_count(ep, v, desired, done)


# -- the engine's side: hosting and (later) CloudWatch alarms call these ------------------------------
def _service(world) -> AutoScaling:
    return world.services["application-autoscaling"]


def scalable_variants(world, endpoint: str) -> set[str]:
    """Names of the endpoint's variants registered as scalable targets."""
    return {t.variant for t in _service(world)._targets.values() if t.endpoint == endpoint}


def forget_endpoint(world, endpoint: str) -> None:
    """DeleteEndpoint deregisters the endpoint's scalable targets (and their policies), as AWS does."""
    service = _service(world)
    for key in [k for k, t in service._targets.items() if t.endpoint == endpoint]:
        service._drop(key)


def execute_step_policy(world, policy_arn: str, breach: float) -> bool:
    """Run a step scaling policy as its CloudWatch alarm would: ``breach`` is the metric minus the threshold.

    Returns whether a scaling activity started (False in cooldown, without a matching
    step, or when the capacity would not change).
    """
    service = _service(world)
    policy = next((p for p in service._policies.values() if p.arn == policy_arn and p.kind == "StepScaling"), None)
    if policy is None:
        raise KeyError(f"no step scaling policy {policy_arn}")
    target = service._targets[policy.target]
    found = service._hosting.scaling_variant(target.endpoint, target.variant)
    if found is None or target.busy:
        return False
    ep, v = found
    if v.desired is not None:
        return False
    now = world.clock.seconds
    if now < max(target.last_out, target.last_in) + float(policy.config.get("Cooldown", 0)):
        return False
    step = None
    for s in policy.config["StepAdjustments"]:
        lo, hi = s.get("MetricIntervalLowerBound", -math.inf), s.get("MetricIntervalUpperBound", math.inf)
        if lo <= breach < hi:
            step = s
            break
    if step is None:
        return False
    adjustment, kind = step["ScalingAdjustment"], policy.config["AdjustmentType"]
    if kind == "ExactCapacity":
        desired = adjustment
    elif kind == "PercentChangeInCapacity":
        change = v.count * adjustment / 100
        change = math.ceil(change) if change > 0 else math.floor(change)
        floor = policy.config.get("MinAdjustmentMagnitude", 0)
        if abs(change) < floor:
            change = floor if adjustment > 0 else -floor
        desired = v.count + change
    else:
        desired = v.count + adjustment
    desired = min(max(desired, target.min), target.max)
    if desired == v.count:
        return False
    service._scale(target, ep, v, desired, f"monitor alarm for policy {policy.name} in state ALARM triggered policy "
                                           f"{policy.name}")
    return True
