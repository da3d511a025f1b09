"""Notification rules are data (config/notifications/): checked at start-up, with errors naming the
file and the line, and replaceable per organisation, rules and templates alike."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import notifications
from config.settings import NOTIFICATIONS_DIR, Settings
from notifications.render import Renderer
from notifications.rules import RulesError, load_rules
from tests.factories import make_application, make_org, make_posting
from tests.test_notifications import CONTACT, messages
from workflow.pipeline import Pipeline
from workflow.service import Workflow

GOOD = """
[[rules]]
name = "acknowledgement"
on = "created"
template = "application_received"
to = ["candidate"]
"""


def rules_dir(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "notifications"
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_the_default_rules_load_and_every_final_state_is_told(
    pipelines: dict[str, Pipeline],
) -> None:
    rules = load_rules(NOTIFICATIONS_DIR, pipelines, Renderer())
    for pipeline in ("volunteer", "staff"):
        entered = {state for rule in rules.base[pipeline] for state in rule.entered or ()}
        assert pipelines[pipeline].final <= entered, pipeline  # no final state goes untold
    assert [rule.template for rule in rules.base["posting"]] == ["posting_closed"]


def second_rule(**fields: str) -> str:
    """A rule after GOOD, with `fields` (TOML values) replacing or adding some of its own."""
    values = {"name": '"second"', "on": '"created"', "template": '"application_received"',
              "to": '["candidate"]'} | fields  # fmt: skip
    return "\n[[rules]]\n" + "".join(f"{key} = {value}\n" for key, value in values.items())


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"on": '"moved"'}, "on = 'moved' is not an event of pipeline 'volunteer'"),
        ({"on": '"reminder:nope"'}, "on = 'reminder:nope' is not an event"),
        ({"event": '"hire"'}, "'event' narrows on = 'transitioned' only"),
        ({"on": '"transitioned"', "event": '"hire"'}, "unknown event(s) ['hire']"),
        ({"on": '"transitioned"', "entered": '"hired"'}, "unknown state(s) ['hired']"),
        ({"template": '"welcome_pack"'}, "no template 'welcome_pack'"),
        (
            {"template": '"interview_scheduled"'},
            "template 'interview_scheduled' is about interview",
        ),
        ({"to": '["interviewers"]'}, "only interview events and reminders have interviewers"),
        ({"to": '["everyone"]'}, "unknown recipient 'everyone'"),
        ({"to": '"candidate"'}, "to must be a list of recipients"),
        ({"attach": '"ics"'}, "the .ics goes with interview:scheduled"),
        ({"template": '"rejected_{rejection_reason}"'}, "needs a fallback"),
        ({"colour": '"blue"'}, "unknown key(s) ['colour']"),
        ({"name": '"acknowledgement"'}, "rule name 'acknowledgement' is used twice"),
    ],
)
def test_a_wrong_rule_is_refused_at_start_up_naming_the_file_and_the_line(
    tmp_path: Path, pipelines: dict[str, Pipeline], fields: dict[str, str], message: str
) -> None:
    text = 'pipeline = "volunteer"\n' + GOOD + second_rule(**fields)
    line = text.splitlines().index("[[rules]]", 3) + 1
    folder = rules_dir(tmp_path, {"volunteer.toml": text})
    with pytest.raises(RulesError) as caught:
        load_rules(folder, pipelines, Renderer())
    assert str(caught.value).startswith(f"{folder / 'volunteer.toml'}:{line}: ")
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"volunteer.toml": 'pipeline = "pool"\n' + GOOD}, "pipeline 'pool' is not one of"),
        ({"volunteer.toml": "pipeline = [broken"}, "invalid TOML"),
        (
            {"orgs/aibf.toml": '[[rules]]\npipeline = "volunteer"\nname = "x"\nenabled = false\n'},
            "no default rule of that name in pipeline 'volunteer' to disable",
        ),
        (
            {"orgs/aibf/templates/fr/application_received.jinja": "{{ candidate.age }}"},
            "does not render with sample data",
        ),
        ({"orgs/aibf/templates/de/application_received.jinja": "Hallo"}, "is not a language"),
        ({"orgs/aibf/templates/fr/welcome.jinja": "Bienvenue"}, "no message 'welcome'"),
    ],
)
def test_files_and_organisation_templates_are_checked_too(
    tmp_path: Path, pipelines: dict[str, Pipeline], files: dict[str, str], message: str
) -> None:
    folder = rules_dir(tmp_path, files)
    with pytest.raises(RulesError) as caught:
        load_rules(folder, pipelines, Renderer(overrides_dir=folder / "orgs"))
    assert message in str(caught.value)
    assert str(caught.value).startswith(str(folder / next(iter(files))))


OVERRIDE_RULES = """
# La Maison: new applications go to the owner only, and nobody is told of idle ones.
[[rules]]
pipeline = "volunteer"
name = "new_application"
on = "created"
template = "new_application"
to = ["owner"]

[[rules]]
pipeline = "volunteer"
name = "idle"
enabled = false
"""
OVERRIDE_TEMPLATE = """{% extends "fr/_layout.jinja" %}
{% block subject %}Merci, {{ candidate.first_name }} !{% endblock %}
{% block text %}La Maison a bien reçu votre candidature à « {{ posting.title }} ».{% endblock %}
{% block html %}<p>La Maison a bien reçu votre candidature à « {{ posting.title }} ».</p>{% endblock %}
"""


def test_an_organisation_replaces_rules_and_templates_and_the_others_keep_the_defaults(
    workflow: Workflow, tmp_path: Path
) -> None:
    folder = tmp_path / "notifications"
    shutil.copytree(NOTIFICATIONS_DIR, folder)
    rules_dir(
        tmp_path,
        {
            "orgs/la-maison.toml": OVERRIDE_RULES,
            "orgs/la-maison/templates/fr/application_received.jinja": OVERRIDE_TEMPLATE,
        },
    )
    notifications.install(workflow.bus, Settings(var_dir=tmp_path, notifications_dir=folder))
    sent = {}
    for slug in ("la-maison", "other"):
        org = make_org(workflow, slug=slug)
        posting = make_posting(workflow, org, contact_email=CONTACT, title="Accueil")
        make_application(workflow, posting)
        sent[slug] = messages(workflow, org.id)
    assert [m.template for m in sent["other"]] == ["application_received", "new_application"]
    maison = sent["la-maison"]
    assert [m.template for m in maison] == ["application_received"]  # no owner, no contact
    assert maison[0].subject.startswith("Merci, ") and maison[0].subject.endswith(" !")
    assert maison[0].text_body.startswith("La Maison a bien reçu votre candidature à « Accueil ».")
    assert "Vivier ; merci de ne pas y répondre" in maison[0].text_body  # the default layout
    assert sent["other"][0].subject == "Candidature reçue : Accueil"
