"""Readers of the papers' real annotation formats: the fixture files (written for this project in the
released shapes) read into task rows, numbers checked by hand; every damage is one clear error; a box
string that is code is refused, never run (Meerkat's released code calls ``eval`` on it)."""
import json

import pytest

from chronus_lab.world.readers import AnnotationError, read_avfit, read_chronusav
from chronus_lab.errors import DataError

FIXTURES = __import__("pathlib").Path(__file__).parent / "fixtures"


def test_chronusav_records_become_task_rows():
    tasks = read_chronusav(FIXTURES / "chronusav_sample.json")
    assert [t.kind for t in tasks] == ["v2t", "a2v", "chronusav"]
    assert tasks[0].question == "When does the man open the door?"  # the <speech><image> prefix is input, not text
    assert tasks[0].target["span"] == [12.5, 18.0] and tasks[0].answer == "second{12.5}-second{18.0}"
    assert tasks[1].target["query_times"] == [3.0, 4.5] and "span" not in tasks[1].target
    assert tasks[2].answer == "" and tasks[2].target["source_id"] == "vid_0002_eval"  # evaluation: no answer
    assert [t.clip_id for t in tasks] == [0, 0, 1]  # one id per distinct video/audio pair


def test_avfit_items_become_task_rows_with_normalised_boxes():
    tasks = read_avfit(FIXTURES / "avfit_sample.json", xxyy_sources=("flickr",))
    assert [t.kind for t in tasks] == ["arig", "avfc", "igatl", "arig", "avqa"]
    assert tasks[0].target["box"] == [0.1, 0.2, 0.5, round(200 / 240, 4)] and tasks[0].target["label"] == "dog"
    assert tasks[1].target["label"] == "true"
    assert tasks[2].target["span"] == [2.5, 6.0]
    assert tasks[3].target["box"] == [round(10 / 224, 4), round(20 / 224, 4), round(110 / 224, 4), round(100 / 224, 4)]
    assert [t.clip_id for t in tasks] == [0, 0, 1, 1, 1]


def test_a_box_in_the_other_order_names_the_fix():
    with pytest.raises(AnnotationError, match="xxyy_sources"):
        read_avfit(FIXTURES / "avfit_sample.json")  # flickr's (x0, x1, y0, y1) read as xyxy: y0 > y1


def test_a_box_string_that_is_code_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "ran"
    evil = {"x": {"data": [{"question": "Where?", "dim": [10, 10],
                            "answer": f"[__import__('pathlib').Path({str(marker)!r}).touch(), 1, 2, 3]"}]}}
    path = tmp_path / "evil.json"
    path.write_text(json.dumps(evil))
    with pytest.raises(AnnotationError, match="literal_eval") as err:
        read_avfit(path)
    assert not marker.exists() and "id 'x', data[0]" in str(err.value)
    assert eval(evil["x"]["data"][0]["answer"]) and marker.exists()  # what eval() would have done  # noqa: S307


@pytest.mark.parametrize("damage, message", [
    ("not json", "not valid JSON"),
    ({"a": 1}, "JSON list of records"),
    ([{"id": "v", "question": "q?"}], "'video' must be a non-empty string"),
    ([{"id": "v", "video": "v.mp4", "question": "q?", "conversations": [{"from": "human", "value": "q"}]}],
     "'conversations' must be a list"),
    ([{"id": "v", "video": "v.mp4", "question": "q?", "data_type": "x2y"}], "'data_type' must be one of"),
    ([{"id": "v", "video": "v.mp4", "question": "q?",
       "conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "second{9}-second{2}"}]}],
     "no readable span"),
])
def test_damaged_chronusav_files_give_one_clear_error(tmp_path, damage, message):
    path = tmp_path / "bad.json"
    path.write_text(damage if isinstance(damage, str) else json.dumps(damage))
    with pytest.raises(DataError, match=message) as err:
        read_chronusav(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("damage, message", [
    ([], "JSON object keyed by"),
    ({"a": {"rows": []}}, "each id maps to"),
    ({"a": {"data": [{"question": "q", "answer": "[1, 2, 3]"}]}}, "2 numbers .a span. or 4"),
    ({"a": {"data": [{"question": "q", "answer": "[5, 6, 50, 60]"}]}}, "needs 'dim'"),
    ({"a": {"data": [{"question": "q", "answer": "[4.0, 2.0]"}]}}, "0 <= start < end"),
    ({"a": {"data": [{"question": "", "answer": "3"}]}}, "'question' must be a non-empty string"),
])
def test_damaged_avfit_files_give_one_clear_error(tmp_path, damage, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(damage))
    with pytest.raises(DataError, match=message):
        read_avfit(path)


def test_a_missing_file_is_one_error(tmp_path):
    with pytest.raises(DataError, match="no such annotation file"):
        read_chronusav(tmp_path / "nope.json")
