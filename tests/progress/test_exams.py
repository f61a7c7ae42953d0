"""Timed exams: saved as they go, resumable after a kill, closed by finish or abandon."""

from __future__ import annotations

import pytest

from sagetutor.progress import ProgressError, ProgressStore

QIDS = ["q1", "q2", "q3"]


def start(store, pack="pack-a", **kw):
    return store.start_exam(pack_id=pack, pack_hash="sha256:abc", question_ids=QIDS, seconds_allowed=5400,
                            seed=42, **kw)


def test_a_new_exam_has_all_its_time_and_no_answers(store):
    exam = start(store, student=True)
    assert (exam.pack_id, exam.pack_hash, exam.question_ids, exam.seed, exam.student) == (
        "pack-a", "sha256:abc", QIDS, 42, True)
    assert exam.seconds_allowed == exam.seconds_remaining == 5400
    assert exam.answers == {} and exam.flags == set() and exam.seconds_spent == {}
    assert exam.started_at.tzinfo is not None and exam.finished_at is None and exam.is_open


def test_exam_resumes_after_a_kill_with_answers_flags_and_remaining_time(data_folder):
    first = ProgressStore.open()
    exam = start(first)
    first.save_exam_answer(exam.id, "q1", ["a", "c"], False, 61.5)
    first.save_exam_answer(exam.id, "q2", {"x": "1"}, True, 30)
    first.set_remaining(exam.id, 5300.5)
    # Killed: `first` is never closed. A new process opens the same file.
    second = ProgressStore.open()
    resumed = second.unfinished_exam("pack-a")
    assert resumed is not None and resumed.id == exam.id
    assert resumed.answers == {"q1": ["a", "c"], "q2": {"x": "1"}}
    assert resumed.flags == {"q2"}
    assert resumed.seconds_spent == {"q1": 61.5, "q2": 30}
    assert resumed.seconds_remaining == 5300.5
    second.close()
    first.close()


def test_remaining_time_is_clamped_at_zero(store):
    exam = start(store)
    store.set_remaining(exam.id, -3)
    assert store.exam(exam.id).seconds_remaining == 0


def test_saving_an_answer_again_replaces_it_and_none_clears_it(store):
    exam = start(store)
    store.save_exam_answer(exam.id, "q1", "a", True, 10)
    store.save_exam_answer(exam.id, "q1", "b", True, 25)
    assert store.exam(exam.id).answers == {"q1": "b"}
    assert store.exam(exam.id).seconds_spent == {"q1": 25}
    store.save_exam_answer(exam.id, "q1", None, False, 30)
    assert store.exam(exam.id).answers == {} and store.exam(exam.id).flags == set()


def test_set_flag_keeps_the_answer_and_time(store):
    exam = start(store)
    store.set_flag(exam.id, "q3", True)
    store.save_exam_answer(exam.id, "q1", "a", False, 10)
    store.set_flag(exam.id, "q1", True)
    after = store.exam(exam.id)
    assert after.flags == {"q1", "q3"} and after.answers == {"q1": "a"} and after.seconds_spent == {"q1": 10}
    store.set_flag(exam.id, "q3", False)
    assert store.exam(exam.id).flags == {"q1"}


def test_unfinished_exam_is_the_most_recent_open_one(store):
    older = start(store)
    newer = start(store)
    other = start(store, pack="pack-b")
    assert store.unfinished_exam().id == other.id
    assert store.unfinished_exam("pack-a").id == newer.id
    store.abandon_exam(newer.id)
    assert store.unfinished_exam("pack-a").id == older.id
    assert store.unfinished_exam("pack-c") is None


def test_finished_exam_keeps_its_result_and_is_closed(store):
    exam = start(store)
    store.save_exam_answer(exam.id, "q1", "a", False, 10)
    result = {"scaled_score": 780, "passed": True, "domains": {"Deployment": 0.75}}
    store.finish_exam(exam.id, result)
    done = store.exam(exam.id)
    assert done.result == result and done.finished_at is not None and not done.is_open
    assert done.answers == {"q1": "a"}
    assert store.unfinished_exam() is None
    with pytest.raises(ProgressError, match="finished"):
        store.save_exam_answer(exam.id, "q2", "b", False, 1)
    with pytest.raises(ProgressError, match="finished"):
        store.finish_exam(exam.id, result)
    with pytest.raises(ProgressError, match="finished"):
        store.abandon_exam(exam.id)
    store.set_remaining(exam.id, 12)  # a late timer tick is harmless
    assert store.exam(exam.id).seconds_remaining == 5400


def test_abandoned_exam_keeps_its_answers_but_is_not_offered_again(store):
    exam = start(store)
    store.save_exam_answer(exam.id, "q1", "a", False, 10)
    store.abandon_exam(exam.id)
    store.abandon_exam(exam.id)  # twice is fine
    gone = store.exam(exam.id)
    assert gone.abandoned_at is not None and gone.answers == {"q1": "a"}
    assert store.unfinished_exam() is None
    with pytest.raises(ProgressError, match="abandoned"):
        store.set_flag(exam.id, "q1", True)


def test_unknown_exam_and_foreign_question_are_refused(store):
    with pytest.raises(ProgressError, match="no exam 99"):
        store.exam(99)
    with pytest.raises(ProgressError, match="no exam 99"):
        store.set_remaining(99, 10)
    exam = start(store)
    with pytest.raises(ValueError, match="not in exam"):
        store.save_exam_answer(exam.id, "q9", "a", False, 1)
