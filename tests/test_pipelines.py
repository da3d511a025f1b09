"""Pipeline files: the defaults load, and every kind of mistake is named with file and line."""

import re
from pathlib import Path

import pytest

from workflow.errors import PipelineError
from workflow.pipeline import HISTORY
from workflow.pipeline_files import load_pipeline, load_pipelines

VOLUNTEER = Path(__file__).parent.parent / "config" / "pipelines" / "volunteer.toml"


def test_default_pipelines_load(pipelines):
    assert set(pipelines) == {"volunteer", "staff", "posting"}
    volunteer = pipelines["volunteer"]
    assert volunteer.progress == (
        "received", "screening", "interview", "accepted", "training", "commitment", "completed",
    )  # fmt: skip
    assert volunteer.allowed_events("commitment") == ["back", "complete", "end_early"]
    assert pipelines["staff"].transition("interview", "next_round").dest == "interview"
    assert pipelines["posting"].allowed_events("closed") == ["cancel", "fill", "reopen"]


def test_every_state_speaks_french_and_english(pipelines):
    for pipeline in pipelines.values():
        for state in pipeline.states.values():
            for texts in (state.label, state.candidate):
                assert texts["fr"].strip() and texts["en"].strip(), (pipeline.name, state.name)


def test_every_stage_has_a_way_back_and_rejections_reopen(pipelines):
    for name in ("volunteer", "staff"):
        p = pipelines[name]
        for earlier, later in zip(p.progress, p.progress[1:], strict=False):
            assert p.transition(later, "back").dest == earlier
        for state in ("rejected", "withdrawn"):
            assert p.transition(state, "reopen").dest == HISTORY


def test_one_machine_per_pipeline_answers_allowed_events(pipelines):
    machine = pipelines["volunteer"].machine
    assert machine.models == []  # model=None: no per-application state in the Machine
    assert sorted(machine.get_triggers("received")) == ["reject", "screen", "withdraw"]


def broken(tmp_path: Path, old: str, new: str, count: int = 1) -> Path:
    text = VOLUNTEER.read_text(encoding="utf-8")
    assert old in text, old
    path = tmp_path / "volunteer.toml"
    path.write_text(text.replace(old, new, count), encoding="utf-8")
    return path


def line_of(path: Path, needle: str, occurrence: int = 1) -> int:
    hits = [i + 1 for i, line in enumerate(path.read_text().splitlines()) if needle in line]
    return hits[occurrence - 1]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('dest = "accepted"', 'dest = "acepted"', r"transition 'accept' .*unknown state 'acepted'"),
        ('guards = ["has_feedback"]', 'guards = ["has_feedbak"]', r"unknown guard 'has_feedbak'"),
        ('event = "withdraw"', 'event = "reject"', r"duplicate \(source, event\) \('received', 'reject'\)"),
        ('effects = [{ do = "record_rejection_reason" }]', 'effects = [{ do = "send_flowers" }]',
         r"unknown effect 'send_flowers'"),
        ('{ do = "record_commitment" }', '{ do = "record_commitment", months = 3 }',
         r"effect 'record_commitment' takes no \['months'\]"),
    ],
)  # fmt: skip
def test_transition_mistakes_name_file_line_and_transition(tmp_path, old, new, expected):
    path = broken(tmp_path, old, new)
    with pytest.raises(PipelineError) as raised:
        load_pipeline(path)
    assert re.search(expected, str(raised.value)), str(raised.value)
    assert str(raised.value).startswith(f"{path}:")
    assert raised.value.line is not None


def test_error_line_points_at_the_transition(tmp_path):
    path = broken(tmp_path, 'guards = ["has_feedback"]', 'guards = ["nope"]')
    with pytest.raises(PipelineError) as raised:
        load_pipeline(path)
    accept_line = line_of(path, 'event = "accept"')
    assert raised.value.line == accept_line - 1  # the [[transitions]] header above it


def test_unreachable_state(tmp_path):
    path = broken(
        tmp_path,
        '[[transitions]]\nevent = "invite"\nsource = "screening"\ndest = "interview"\n',
        "",
    )
    with pytest.raises(PipelineError, match=r"unreachable state\(s\) \[.*'interview'"):
        load_pipeline(path)


def test_non_final_state_without_way_out(tmp_path):
    path = broken(tmp_path, 'final = ["completed", "rejected", "withdrawn", "ended_early"]',
                  'final = ["rejected", "withdrawn", "ended_early"]')  # fmt: skip
    path.write_text(
        path.read_text().replace(
            '[[transitions]]\nevent = "back"\nsource = "completed"\ndest = "commitment"\nguards = ["reason_given"]\n',
            "",
        )
    )
    with pytest.raises(PipelineError, match=r"state 'completed' is not final and has no way out"):
        load_pipeline(path)


def test_stage_without_way_back(tmp_path):
    path = broken(
        tmp_path,
        'source = "interview"\ndest = "screening"',
        'source = "interview"\ndest = "rejected"',
    )
    with pytest.raises(
        PipelineError, match=r"stage 'interview' has no declared way back to 'screening'"
    ):
        load_pipeline(path)


def test_deadline_on_unknown_field_and_bad_offset(tmp_path):
    path = broken(
        tmp_path, 'at = "state_entered_at", offset = "10d"', 'at = "birthday", offset = "10d"'
    )
    with pytest.raises(
        PipelineError, match=r"'at' = 'birthday' is not a date field of application"
    ):
        load_pipeline(path)
    path = broken(tmp_path, 'offset = "10d"', 'offset = "ten days"')
    with pytest.raises(PipelineError, match=r"offset 'ten days' is not like"):
        load_pipeline(path)


def test_missing_translation(tmp_path):
    path = broken(
        tmp_path, 'label = { en = "Training", fr = "Formation" }', 'label = { en = "Training" }'
    )
    with pytest.raises(PipelineError) as raised:
        load_pipeline(path)
    assert "state 'training': label has no 'fr' text" in str(raised.value)
    assert raised.value.line == line_of(path, "[states.training]")


def test_invalid_toml_names_line(tmp_path):
    path = broken(tmp_path, 'initial = "received"', "initial = received")
    with pytest.raises(PipelineError, match=r"invalid TOML: .*line \d+"):
        load_pipeline(path)


def test_folder_checks_files_against_each_other(tmp_path):
    for name in ("posting", "staff"):
        (tmp_path / f"{name}.toml").write_text((VOLUNTEER.parent / f"{name}.toml").read_text())
    broken(tmp_path, 'source = ["received", "screening", "interview", "accepted", "training"]\ndest = "rejected"',
           'source = ["received", "interview", "accepted", "training"]\ndest = "rejected"')  # fmt: skip
    with pytest.raises(PipelineError, match=r"state 'screening' is open .* no 'reject' transition"):
        load_pipelines(tmp_path)
