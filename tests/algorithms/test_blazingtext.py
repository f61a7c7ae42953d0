"""BlazingText specifics: supervised only, request formats, top-k."""

from __future__ import annotations

import json

import pytest

from engine.algorithms import get
from engine.algorithms.base import AlgorithmClientError

from .conftest import case, new_trainer, tickets, trained

BT = get("blazingtext")


@pytest.mark.parametrize("mode", ["skipgram", "cbow", "batch_skipgram"])
def test_word2vec_modes_say_only_supervised_is_implemented(mode):
    with pytest.raises(AlgorithmClientError, match="implements only BlazingText's supervised"):
        BT.parse_hyperparameters({"mode": mode})


def test_json_request_with_top_k():
    model = trained("blazingtext").trainer.model()
    body = json.dumps({"instances": ["my invoice shows a refund", "the courier lost my package"],
                       "configuration": {"k": 2}}).encode()
    out = json.loads(model.predict_body(body, "application/json", "application/json")[0])
    assert out[0]["label"][0] == "__label__billing" and out[1]["label"][0] == "__label__shipping"
    assert len(out[0]["label"]) == len(out[0]["prob"]) == 2 and out[0]["prob"][0] >= out[0]["prob"][1]


def test_text_plain_and_jsonlines_requests():
    model = trained("blazingtext").trainer.model()
    plain = json.loads(model.predict_body(b"reset my password please\n", "text/plain", "application/json")[0])
    assert plain[0]["label"] == ["__label__account"]
    lines, ctype = model.predict_body(b'{"source": "package late"}\n{"source": "password locked"}\n',
                                      "application/jsonlines", "")
    assert ctype == "application/jsonlines" and len(lines.decode().splitlines()) == 2


def test_min_count_too_high_is_a_client_error():
    c = case("blazingtext")
    with pytest.raises(AlgorithmClientError, match="min_count"):
        new_trainer("blazingtext", raw={**c.hp, "min_count": "100000"})


def test_early_stopping_with_validation():
    c = case("blazingtext")
    t = new_trainer("blazingtext", raw={**c.hp, "epochs": "60", "early_stopping": "true", "patience": "2",
                                        "min_epochs": "3"})
    records = t.fit_until(60)
    assert t.stopped_early and len(records) == t.total_units < 60
    assert len(tickets()[0]) == 390
