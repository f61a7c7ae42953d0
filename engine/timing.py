"""The time model: how long each phase of a job takes in simulated seconds.

Every figure is derived from the work really done, the nominal size a scenario
declares and the instance table, never from wall-clock time (docs/time-and-cost.md):

* **Starting** (provisioning): 60-120 s for CPU instances, 90-180 s for GPU ones,
  drawn from the seed per job and attempt.
* **Downloading** (File mode): nominal bytes / (per-instance bandwidth x 0.5),
  where bandwidth comes from the instance's network figure; Pipe and FastFile
  stream instead, so they pay a flat 5 s here and 10% more time in Training.
  Each attempt also downloads the training image: 20 s CPU images, 45 s GPU.
* **Training**: work per unit (counted by the algorithm on the real data) x
  (nominal rows / real rows), divided by the cluster's throughput. A vCPU does
  ``CPU_OPS`` operations per second times its relative speed; a GPU does
  ``GPU_OPS`` times its relative speed, but only for deep-learning built-ins
  (``gpu_accelerated``) — XGBoost or Linear Learner on a GPU instance run on its
  vCPUs. Deep-learning built-ins on CPUs run at ``DL_ON_CPU`` of CPU speed. The
  cluster's rate is n x efficiency(n) instances, efficiency(n) = 1 / (1 + 0.1 (n - 1)).
  The algorithm counts the work of every instance's share: ShardedByS3Key splits the
  data, so n instances finish n x efficiency(n) times sooner; FullyReplicated gives
  every instance the whole data set, so the work grows n-fold and nothing is gained
  (the communication overhead even makes it slower).
* **Uploading**: 5 s plus model bytes at the instance bandwidth.
"""

from __future__ import annotations

import math

from engine.pricing import InstanceSpec

CPU_OPS = 2.0e8  # effective operations per second per vCPU (ml.m5 = 1.0)
GPU_OPS = 2.0e10  # per V100-equivalent GPU, for deep-learning built-ins
DL_ON_CPU = 0.25  # deep-learning built-ins on CPUs run at a quarter of their CPU-ops rate
MIN_UNIT_SECONDS = 0.05  # no unit of training is shorter than this
STREAMING_OVERHEAD = 1.10  # Pipe / FastFile: data streams during training


def efficiency(n: int) -> float:
    """Parallel efficiency of n data-parallel instances (communication overhead)."""
    return 1.0 / (1.0 + 0.1 * (n - 1))


def is_gpu(spec: InstanceSpec) -> bool:
    return spec.gpus > 0 and spec.gpu_speed > 0


def throughput(spec: InstanceSpec, gpu_accelerated: bool) -> float:
    """Operations per second one instance gives an algorithm."""
    cpu = spec.vcpus * spec.cpu_speed * CPU_OPS
    if gpu_accelerated:
        if is_gpu(spec):
            return spec.gpus * spec.gpu_speed * GPU_OPS
        return cpu * DL_ON_CPU
    return cpu


def unit_seconds(work_per_unit: float, scale: float, spec: InstanceSpec, count: int, sharded: bool,
                 gpu_accelerated: bool, streaming: bool) -> float:
    """Simulated seconds one unit (round/epoch) takes on the whole cluster."""
    ops = work_per_unit * scale
    rate = throughput(spec, gpu_accelerated)
    if count > 1:
        # ``work_per_unit`` counts every instance's share (a replica counts whole), so the
        # cluster's rate is the sum of its instances, less the communication overhead.
        rate *= count * efficiency(count)
    secs = ops / rate
    if streaming:
        secs *= STREAMING_OVERHEAD
    return max(MIN_UNIT_SECONDS, secs)


def bandwidth_bytes(spec: InstanceSpec) -> float:
    """Effective S3 transfer rate of one instance (half its nominal network bandwidth)."""
    return max(spec.network_gbps, 1.0) * 1e9 / 8 * 0.5


def download_seconds(nominal_bytes: float, spec: InstanceSpec, count: int, sharded: bool, streaming: bool) -> float:
    if streaming:
        return 5.0
    per_instance = nominal_bytes / count if (sharded and count > 1) else nominal_bytes
    return max(2.0, math.ceil(per_instance / bandwidth_bytes(spec)))


def image_seconds(spec: InstanceSpec) -> float:
    return 45.0 if is_gpu(spec) else 20.0


def upload_seconds(model_bytes: int, spec: InstanceSpec) -> float:
    return 5.0 + math.ceil(model_bytes / bandwidth_bytes(spec))


def provision_seconds(spec: InstanceSpec, u: float) -> float:
    """Launch time for a draw ``u`` in [0, 1)."""
    lo, hi = (90, 180) if is_gpu(spec) else (60, 120)
    return float(round(lo + (hi - lo) * u))


# -- inference ---------------------------------------------------------------------------------
OVERHEAD_MS = (1.5, 4.0)  # SageMaker's own per-request overhead range (OverheadLatency)
CONTAINER_MS = 0.6  # a container's fixed cost per request (parsing, serialising)
BYTES_PER_MS = 400_000  # request bytes a container of speed 1.0 parses and predicts per millisecond


def model_latency_ms(body_bytes: int, containers: int, spec: InstanceSpec) -> float:
    """Simulated ModelLatency of one request: each container parses and predicts the payload."""
    speed = max(spec.cpu_speed, 0.1)
    return containers * (CONTAINER_MS + body_bytes / BYTES_PER_MS / speed)


def overhead_ms(u: float) -> float:
    lo, hi = OVERHEAD_MS
    return lo + (hi - lo) * u


# -- serverless, asynchronous and auto scaling ------------------------------------------------
SERVERLESS_IDLE_SECONDS = 600.0  # a serverless variant idle this long is cold again
COLD_START_SECONDS = (1.0, 3.0)  # at 1 GB of memory; the upper bound falls 0.3 s per extra GB
COLD_START_FALL_PER_GB = 0.3
SERVERLESS_GB_PER_SPEED = 2.0  # a serverless container of 2 GB computes like one ml.m5 (speed 1.0)
ASYNC_IO_SECONDS = 0.2  # an async request's own S3 round trips (read the input, write the output)
ENDPOINT_SETUP_SECONDS = 180.0  # model download + container start + health checks after launch
SERVERLESS_CREATE_SECONDS = (60.0, 120.0)  # CreateEndpoint of a serverless endpoint (no instance to launch)


def serverless_latency_ms(body_bytes: int, containers: int, memory_mb: int) -> float:
    """ModelLatency of one request on a serverless container: compute scales with its memory."""
    speed = max(memory_mb / 1024 / SERVERLESS_GB_PER_SPEED, 0.1)
    return containers * (CONTAINER_MS + body_bytes / BYTES_PER_MS / speed)


def billed_ms(latency_ms: float) -> int:
    """Serverless compute is billed per started millisecond of the request's processing."""
    return max(1, math.ceil(latency_ms))


def cold_start_seconds(memory_mb: int, u: float) -> float:
    """ModelSetupTime of a cold start for a draw ``u`` in [0, 1): 1-3 s at 1 GB, quicker with more memory."""
    lo, hi = COLD_START_SECONDS
    hi = max(lo, hi - COLD_START_FALL_PER_GB * (memory_mb / 1024 - 1))
    return round(lo + (hi - lo) * u, 3)


def async_seconds(payload_bytes: int, model_ms: float, spec: InstanceSpec) -> float:
    """Processing time of one async request on an instance: S3 in and out, then the model."""
    return ASYNC_IO_SECONDS + 2 * payload_bytes / bandwidth_bytes(spec) + model_ms / 1000


def scale_out_seconds(spec: InstanceSpec, u: float) -> float:
    """From a scale-out decision to new instances serving: launch, model download, health checks."""
    return provision_seconds(spec, u) + ENDPOINT_SETUP_SECONDS


def serverless_create_seconds(u: float) -> float:
    lo, hi = SERVERLESS_CREATE_SECONDS
    return float(round(lo + (hi - lo) * u))
