"""Simulated Ground Truth workforces: who answers a labeling task, how well, how fast, for how much.

Three kinds of work team, as on AWS (docs/labeling.md):

* the **public crowd** (Amazon Mechanical Turk), ``arn:aws:sagemaker:<region>:394669845002:workteam/public-crowd/default``,
  which always exists: a pool of 400 workers of whom 25-40 pick up a given batch; less accurate and more
  varied than the others; paid ``PublicWorkforceTaskPrice`` per task;
* **private** teams (CreateWorkteam): 9-14 workers of your own, accurate, free of charge on the bill;
* **vendor** teams (AWS Marketplace), any ``arn:aws:sagemaker:<region>:<account>:workteam/vendor-crowd/<name>``:
  20-30 trained workers, billed at the vendor's seeded price per task.

Every worker has a seeded accuracy, a median time per task and a delay before picking up a new batch. A
worker answers the object's TRUE label with probability ``accuracy`` and otherwise a seeded wrong class,
uniformly among the others. ``run_tasks`` schedules a batch in virtual time and ``consolidate`` merges
several workers' answers with a one-coin Dawid-Skene EM (each worker's accuracy is estimated from their
agreement with the consolidated labels), the variant of Expectation Maximization AWS documents for
classification tasks.
"""

from __future__ import annotations

import heapq
import re
import zlib
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

PUBLIC_CROWD_ACCOUNT = "394669845002"
PUBLIC_CROWD_POOL = 400

#: The prices AWS allows for image and text classification tasks, in tenths of a cent.
CLASSIFICATION_PRICES_TENTH_CENTS: tuple[int, ...] = (12, 24, 36, 48, 60, 72, 120, 240, 360, 480, 600, 720, 840,
                                                      960, 1080, 1200)

_WORKTEAM = re.compile(r"^arn:aws:sagemaker:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):workteam/"
                       r"(?P<kind>public-crowd|private-crowd|vendor-crowd)/(?P<name>[^/]+)$")

#: Per-kind parameters: accuracy ~ Beta(a, b) clipped, median seconds per task (image), spread of those
#: medians across workers (lognormal sigma), mean delay before a worker starts on a new batch.
_KINDS = {
    "public": {"beta": (12.0, 1.0), "clip": (0.50, 0.99), "seconds": 25.0, "spread": 0.35, "delay": 600.0},
    "private": {"beta": (60.0, 1.0), "clip": (0.90, 0.998), "seconds": 12.0, "spread": 0.20, "delay": 1800.0},
    "vendor": {"beta": (24.0, 1.0), "clip": (0.85, 0.995), "seconds": 15.0, "spread": 0.25, "delay": 900.0},
}
#: Text tasks take longer to read than 8x8 images.
TASK_TIME_FACTOR = {"image": 1.0, "text": 1.6}
#: Per-assignment variation of a worker's time around their median (lognormal sigma).
_ASSIGNMENT_SIGMA = 0.3


def stable_seed(*parts: object) -> list[int]:
    """A numpy seed sequence from the engine seed and names (independent of PYTHONHASHSEED)."""
    out = []
    for p in parts:
        if isinstance(p, int):
            out.append(p % (2**63))
        else:
            out.append(zlib.crc32(str(p).encode()))
    return out


def public_crowd_arn(region: str) -> str:
    return f"arn:aws:sagemaker:{region}:{PUBLIC_CROWD_ACCOUNT}:workteam/public-crowd/default"


def parse_workteam_arn(arn: str) -> dict[str, str] | None:
    """``{"region", "account", "kind", "name"}`` of a work team ARN, or None when it is not one."""
    m = _WORKTEAM.match(arn)
    return m.groupdict() if m else None


def price_tenth_cents(price: dict) -> int:
    """``PublicWorkforceTaskPrice`` as an integer number of tenths of a cent."""
    usd = price.get("AmountInUsd", {})
    return usd.get("Dollars", 0) * 1000 + usd.get("Cents", 0) * 10 + usd.get("TenthFractionsOfACent", 0)


def usd(tenth_cents: int) -> Decimal:
    return (Decimal(tenth_cents) / Decimal(1000)).quantize(Decimal("0.001"))


@dataclass(frozen=True)
class Worker:
    worker_id: str
    accuracy: float
    seconds_per_task: float  # median, for an image classification task


@dataclass(frozen=True)
class Workforce:
    kind: str  # "public", "private", "vendor"
    arn: str
    workers: tuple[Worker, ...]
    start_delay: float  # mean seconds before a worker picks up a new batch
    price_per_task: Decimal | None = None  # the vendor's price; the public crowd's comes from the request
    engaged: tuple[int, int] | None = None  # how many of the pool pick up one batch (public crowd)

    def batch_workers(self, rng: np.random.Generator) -> list[Worker]:
        if self.engaged is None:
            return list(self.workers)
        lo, hi = self.engaged
        n = int(rng.integers(lo, hi + 1))
        chosen = sorted(rng.choice(len(self.workers), size=n, replace=False).tolist())
        return [self.workers[i] for i in chosen]


def _workers(kind: str, count: int, rng: np.random.Generator, prefix: str) -> tuple[Worker, ...]:
    p = _KINDS[kind]
    a, b = p["beta"]
    lo, hi = p["clip"]
    acc = np.clip(rng.beta(a, b, size=count), lo, hi)
    secs = p["seconds"] * np.exp(rng.normal(0.0, p["spread"], size=count))
    return tuple(Worker(f"{prefix}{i:04d}", round(float(acc[i]), 4), round(float(secs[i]), 2)) for i in range(count))


def public_crowd(seed: int, region: str) -> Workforce:
    rng = np.random.default_rng(stable_seed(seed, "public-crowd"))
    workers = _workers("public", PUBLIC_CROWD_POOL, rng, "public-crowd/worker-")
    return Workforce("public", public_crowd_arn(region), workers, _KINDS["public"]["delay"], engaged=(25, 40))


def private_team(seed: int, arn: str) -> Workforce:
    rng = np.random.default_rng(stable_seed(seed, "private", arn))
    count = int(rng.integers(9, 15))
    name = arn.rsplit("/", 1)[-1]
    return Workforce("private", arn, _workers("private", count, rng, f"{name}/worker-"), _KINDS["private"]["delay"])


def vendor_team(seed: int, arn: str) -> Workforce:
    rng = np.random.default_rng(stable_seed(seed, "vendor", arn))
    count = int(rng.integers(20, 31))
    price = usd(int(rng.choice([36, 48, 60, 72])))
    name = arn.rsplit("/", 1)[-1]
    return Workforce("vendor", arn, _workers("vendor", count, rng, f"{name}/worker-"), _KINDS["vendor"]["delay"],
                     price_per_task=price)


# ----------------------------------------------------------------------------- a batch of tasks


@dataclass
class ObjectResult:
    index: int  # the object's line in the input manifest
    answers: list[tuple[str, int]]  # (worker id, class id)
    done: float  # virtual seconds when its last answer came in (or when it expired)
    abandoned: int = 0  # assignments returned unanswered after TaskTimeLimitInSeconds

    @property
    def failed(self) -> bool:
        return not self.answers


def run_tasks(force: Workforce, objects: list[int], truth: dict[int, int], n_classes: int, workers_per_object: int,
              posted: float, concurrency: int, time_limit: float, lifetime: float, task_type: str,
              rng: np.random.Generator) -> list[ObjectResult]:
    """Schedule one batch of human tasks in virtual time.

    Objects are released in order, at most ``concurrency`` (MaxConcurrentTaskCount) in flight at once. Each
    goes to ``workers_per_object`` distinct workers, each time to the worker free soonest. A worker who would
    need longer than ``time_limit`` (TaskTimeLimitInSeconds) returns the task unanswered at the limit and
    it goes to someone else; an assignment nobody accepts within ``lifetime``
    (TaskAvailabilityLifetimeInSeconds) of the batch being posted expires. An object with no answer at all
    fails (FailedNonRetryableError).
    """
    crew = force.batch_workers(rng)
    factor = TASK_TIME_FACTOR[task_type]
    heap: list[tuple[float, int]] = []
    for i, _ in enumerate(crew):
        heapq.heappush(heap, (posted + float(rng.exponential(force.start_delay)), i))
    deadline = posted + lifetime
    largest: list[float] = []  # min-heap of the `concurrency` latest completions
    release = posted
    results: list[ObjectResult] = []
    for index in objects:
        if len(largest) >= concurrency:
            release = max(release, largest[0])
        true = truth[index]
        seen: set[int] = set()
        answers: list[tuple[str, int]] = []
        ends: list[float] = []
        abandoned = 0
        expired = False
        for _slot in range(workers_per_object):
            while True:
                skipped = []
                pick = None
                while heap:
                    free, w = heapq.heappop(heap)
                    if w in seen:
                        skipped.append((free, w))
                        continue
                    pick = (free, w)
                    break
                for item in skipped:
                    heapq.heappush(heap, item)
                if pick is None:  # every worker has already seen this object
                    expired = True
                    break
                free, w = pick
                start = max(free, release)
                if start > deadline:
                    heapq.heappush(heap, pick)
                    expired = True
                    break
                worker = crew[w]
                seen.add(w)
                took = worker.seconds_per_task * factor * float(np.exp(rng.normal(0.0, _ASSIGNMENT_SIGMA)))
                if took > time_limit:
                    abandoned += 1
                    heapq.heappush(heap, (start + time_limit, w))
                    continue
                if rng.random() < worker.accuracy:
                    answer = true
                else:
                    answer = int(rng.integers(n_classes - 1))
                    answer += answer >= true
                answers.append((worker.worker_id, answer))
                ends.append(start + took)
                heapq.heappush(heap, (start + took, w))
                break
            if expired:
                break
        done = max([deadline, *ends]) if expired else max(ends)
        results.append(ObjectResult(index, answers, done, abandoned))
        heapq.heappush(largest, done)
        if len(largest) > concurrency:
            heapq.heappop(largest)
    return results


# ----------------------------------------------------------------------------- consolidation


def consolidate(answer_lists: list[list[tuple[str, int]]], n_classes: int, iterations: int = 50
                ) -> tuple[np.ndarray, np.ndarray]:
    """One-coin Dawid-Skene EM: (labels, posteriors) for objects with at least one answer each.

    Starts from the vote shares, then alternates estimating each worker's accuracy (with a Beta(8, 2)
    prior, so a worker seen a few times is trusted like an average worker) and the posterior of each
    object's class. Ties go to the lower class id.
    """
    n = len(answer_lists)
    post = np.zeros((n, n_classes))
    if n == 0:
        return np.zeros(0, dtype=int), post
    ids: dict[str, int] = {}
    obj, wk, cls = [], [], []
    for i, answers in enumerate(answer_lists):
        for worker_id, c in answers:
            obj.append(i)
            wk.append(ids.setdefault(worker_id, len(ids)))
            cls.append(c)
    obj_a, wk_a, cls_a = np.array(obj), np.array(wk), np.array(cls)
    np.add.at(post, (obj_a, cls_a), 1.0)
    post /= post.sum(axis=1, keepdims=True)
    n_workers = len(ids)
    counts = np.bincount(wk_a, minlength=n_workers).astype(float)
    for _ in range(iterations):
        agree = np.bincount(wk_a, weights=post[obj_a, cls_a], minlength=n_workers)
        acc = np.clip((agree + 8.0) / (counts + 10.0), 1e-3, 1 - 1e-3)
        prior = (post.sum(axis=0) + 1.0) / (n + n_classes)
        log_wrong = np.log((1 - acc) / max(1, n_classes - 1))
        log_right = np.log(acc)
        logp = np.log(prior)[None, :] + np.bincount(obj_a, weights=log_wrong[wk_a], minlength=n)[:, None]
        np.add.at(logp, (obj_a, cls_a), log_right[wk_a] - log_wrong[wk_a])
        logp -= logp.max(axis=1, keepdims=True)
        new = np.exp(logp)
        new /= new.sum(axis=1, keepdims=True)
        if np.abs(new - post).max() < 1e-6:
            post = new
            break
        post = new
    return post.argmax(axis=1), post
