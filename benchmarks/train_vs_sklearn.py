"""Engine training-job wall time against scikit-learn fitting the same estimator directly.

For every built-in, on the same bundled data in one run: the engine's CreateTrainingJob + waiter
(parsing the channels, real training, per-unit metrics, logs, model artifact, virtual-time
bookkeeping), against parsing the same CSV/JSON with numpy and fitting the scikit-learn estimator
the built-in uses, with the same main settings. Target: engine <= raw + max(30 ms, 0.3 x raw).

    python benchmarks/train_vs_sklearn.py [--repeat 5]

Prints the median of the repeats for each, the overhead, and whether the target holds.
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
DATA = "s3://sagetutor-datasets"


def _csv(eng: Engine, prefix: str) -> np.ndarray:
    s3 = eng._world.services["s3"]
    parts = [s3.get("sagetutor-datasets", k).data for k in s3.list_keys("sagetutor-datasets", prefix)]
    return np.loadtxt(io.BytesIO(b"".join(parts)), delimiter=",", ndmin=2)


def _lines(eng: Engine, prefix: str) -> list[str]:
    s3 = eng._world.services["s3"]
    return b"".join(s3.get("sagetutor-datasets", k).data for k in s3.list_keys("sagetutor-datasets", prefix)).decode().splitlines()


# Each case: engine job settings and a raw fit of the same estimator on the same data.
def raw_xgboost(eng):
    from sklearn.ensemble import HistGradientBoostingClassifier

    tr, va = _csv(eng, "digits/train/"), _csv(eng, "digits/validation/")
    m = HistGradientBoostingClassifier(max_iter=50, learning_rate=0.3, max_depth=6, early_stopping=False,
                                       random_state=0).fit(tr[:, 1:], tr[:, 0])
    m.predict_proba(va[:, 1:])


def raw_linear(eng):
    from sklearn.linear_model import SGDClassifier
    from sklearn.preprocessing import StandardScaler

    tr, va = _csv(eng, "digits/train/"), _csv(eng, "digits/validation/")
    sc = StandardScaler().fit(tr[:, 1:])
    x = sc.transform(tr[:, 1:])
    m = SGDClassifier(loss="log_loss", random_state=0, tol=None, shuffle=False)
    classes = np.unique(tr[:, 0])
    for _ in range(15):
        m.partial_fit(x, tr[:, 0], classes=classes)
    m.predict(sc.transform(va[:, 1:]))


def raw_kmeans(eng):
    from sklearn.cluster import MiniBatchKMeans

    tr = _csv(eng, "blobs/train/")
    MiniBatchKMeans(n_clusters=5, n_init=1, random_state=0, batch_size=5000).fit(tr)


def raw_pca(eng):
    from sklearn.decomposition import PCA

    tr = _csv(eng, "digits/train/")
    PCA(n_components=10, random_state=0).fit(tr[:, 1:])


def raw_knn(eng):
    from sklearn.neighbors import KNeighborsClassifier

    tr, te = _csv(eng, "digits/train/"), _csv(eng, "digits/test/")
    KNeighborsClassifier(n_neighbors=5).fit(tr[:, 1:], tr[:, 0]).predict(te[:, 1:])


def raw_rcf(eng):
    from sklearn.ensemble import IsolationForest

    tr = _csv(eng, "anomaly/train/")
    IsolationForest(n_estimators=100, max_samples=256, random_state=0).fit(tr)


def raw_lda(eng):
    from sklearn.decomposition import LatentDirichletAllocation

    tr = _csv(eng, "tickets-bow/train/")
    m = LatentDirichletAllocation(n_components=6, learning_method="online", batch_size=200, random_state=0,
                                  total_samples=len(tr))
    for _ in range(5):
        m.partial_fit(tr)


def raw_blazingtext(eng):
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import SGDClassifier
    from sklearn.preprocessing import normalize

    lines = _lines(eng, "tickets/train/")
    y = [ln.split(" ", 1)[0] for ln in lines]
    docs = [ln.split(" ", 1)[1] for ln in lines]
    vec = CountVectorizer(min_df=5, token_pattern=r"\S+")  # min_count 5, whitespace tokens
    x = normalize(vec.fit_transform(docs).astype(float))
    m = SGDClassifier(loss="log_loss", learning_rate="constant", eta0=0.05, alpha=1e-6, tol=None, shuffle=False,
                      random_state=0)
    for _ in range(5):
        m.partial_fit(x, y, classes=sorted(set(y)))
    m.predict(normalize(vec.transform([ln.split(" ", 1)[1] for ln in _lines(eng, "tickets/validation/")]).astype(float)))


def raw_deepar(eng):
    from sklearn.linear_model import Ridge
    from sklearn.neural_network import MLPRegressor

    series = [json.loads(ln)["target"] for ln in _lines(eng, "timeseries/train/")]
    ctx, pred = 48, 24
    xs, ys = [], []
    for s in series:  # every window position, as the built-in cuts them
        s = np.asarray(s)
        for i in range(0, len(s) - ctx - pred + 1):
            scale = np.abs(s[i:i + ctx]).mean() or 1.0
            xs.append(s[i:i + ctx] / scale)
            ys.append(s[i + ctx:i + ctx + pred] / scale)
    x, y = np.array(xs), np.array(ys)
    residual = y - Ridge(alpha=1.0).fit(x, y).predict(x)
    m = MLPRegressor(hidden_layer_sizes=(40, 40), learning_rate_init=0.001, random_state=0, batch_size=128,
                     shuffle=False)
    for _ in range(10):
        m.partial_fit(x, residual)


def raw_image(eng):
    from sklearn.neural_network import MLPClassifier

    tr = _csv(eng, "digits/train/")
    m = MLPClassifier(hidden_layer_sizes=(64,), random_state=0, batch_size=32, shuffle=False)
    classes = np.arange(10)
    for _ in range(10):
        m.partial_fit(tr[:, 1:] / 16.0, tr[:, 0], classes=classes)


def ch(name, prefix, ctype):
    return {"ChannelName": name, "ContentType": ctype,
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"{DATA}/{prefix}"}}}


CASES = {
    "xgboost": ({"objective": "multi:softprob", "num_class": "10", "num_round": "50", "max_depth": "6"},
                [ch("train", "digits/train/", "text/csv"), ch("validation", "digits/validation/", "text/csv")],
                "ml.m5.xlarge", raw_xgboost),
    "linear-learner": ({"predictor_type": "multiclass_classifier", "num_classes": "10", "epochs": "15"},
                       [ch("train", "digits/train/", "text/csv"), ch("validation", "digits/validation/", "text/csv")],
                       "ml.m5.xlarge", raw_linear),
    "kmeans": ({"k": "5", "feature_dim": "8"}, [ch("train", "blobs/train/", "text/csv;label_size=0")],
               "ml.m5.xlarge", raw_kmeans),
    "pca": ({"feature_dim": "64", "num_components": "10", "mini_batch_size": "500"},
            [ch("train", "digits/train/", "text/csv;label_size=1")], "ml.m5.xlarge", raw_pca),
    "knn": ({"feature_dim": "64", "k": "5", "predictor_type": "classifier", "sample_size": "2000"},
            [ch("train", "digits/train/", "text/csv"), ch("test", "digits/test/", "text/csv")], "ml.m5.xlarge", raw_knn),
    "randomcutforest": ({"feature_dim": "5"}, [ch("train", "anomaly/train/", "text/csv;label_size=0")],
                        "ml.m5.xlarge", raw_rcf),
    "lda": ({"num_topics": "6", "feature_dim": "239", "mini_batch_size": "200", "max_iterations": "5"},
            [ch("train", "tickets-bow/train/", "text/csv;label_size=0")], "ml.m5.xlarge", raw_lda),
    "blazingtext": ({"mode": "supervised", "epochs": "5"},
                    [ch("train", "tickets/train/", "text/plain"), ch("validation", "tickets/validation/", "text/plain")],
                    "ml.m5.xlarge", raw_blazingtext),
    "forecasting-deepar": ({"context_length": "48", "prediction_length": "24", "time_freq": "H", "epochs": "10"},
                           [ch("train", "timeseries/train/", "application/jsonlines"),
                            ch("test", "timeseries/test/", "application/jsonlines")], "ml.m5.xlarge", raw_deepar),
    "image-classification": ({"num_classes": "10", "num_training_samples": "1259", "epochs": "10",
                              "image_shape": "1,8,8"},
                             [ch("train", "digits/train/", "text/csv"), ch("validation", "digits/validation/", "text/csv")],
                             "ml.p3.2xlarge", raw_image),
}


def engine_once(name: str, n: int) -> tuple[float, str]:
    hp, channels, instance, _ = CASES[name]
    eng = Engine(seed=7)
    eng.client("s3").create_bucket(Bucket="bench")
    sm = eng.client("sagemaker")
    req = dict(TrainingJobName=f"b{n}", RoleArn=ROLE, HyperParameters=hp, InputDataConfig=channels,
               AlgorithmSpecification={"TrainingImage": eng.image_uri(name), "TrainingInputMode": "File"},
               OutputDataConfig={"S3OutputPath": "s3://bench/out"},
               ResourceConfig={"InstanceType": instance, "InstanceCount": 1, "VolumeSizeInGB": 10},
               StoppingCondition={"MaxRuntimeInSeconds": 86400})
    t = time.perf_counter()
    sm.create_training_job(**req)
    eng.run_until_idle()
    wall = time.perf_counter() - t
    d = sm.describe_training_job(TrainingJobName=f"b{n}")
    return wall, d["TrainingJobStatus"] + ("" if d["TrainingJobStatus"] == "Completed" else ": " + d.get("FailureReason", ""))


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("only", nargs="*")
    args = p.parse_args()
    warm = Engine(seed=7)
    print(f"{'built-in':22} {'raw ms':>9} {'engine ms':>10} {'overhead ms':>12} {'ratio':>6} {'budget ms':>10}  target")
    ok_all = True
    for name in args.only or CASES:
        raw_fn = CASES[name][3]
        raw_fn(warm)  # warm imports and caches for both sides
        status = engine_once(name, 0)[1]
        raws, engs = [], []
        for i in range(args.repeat):
            t = time.perf_counter()
            raw_fn(warm)
            raws.append(time.perf_counter() - t)
            engs.append(engine_once(name, i + 1)[0])
        raw, e = statistics.median(raws) * 1000, statistics.median(engs) * 1000
        budget = max(30.0, 0.3 * raw)
        ok = e <= raw + budget
        ok_all &= ok
        print(f"{name:22} {raw:9.1f} {e:10.1f} {e - raw:12.1f} {e / raw:6.2f} {budget:10.1f}  "
              f"{'met' if ok else 'MISSED'}{'' if status == 'Completed' else '  (' + status + ')'}")
    print("all targets met" if ok_all else "some targets missed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
