"""Every e-mail template renders in French and English with sample data, strictly (a missing
variable fails), is compiled once per process, and `vivier emails preview` shows one."""

from __future__ import annotations

from pathlib import Path

import pytest
from jinja2 import Environment

from notifications.render import (
    LANGUAGES,
    TEMPLATES,
    TEMPLATES_DIR,
    Renderer,
    TemplateProblem,
    sample_context,
)

ALL = [(name, lang) for name in TEMPLATES for lang in LANGUAGES]


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


@pytest.mark.parametrize(("name", "lang"), ALL)
def test_every_template_renders_in_both_languages_with_sample_data(
    renderer: Renderer, name: str, lang: str
) -> None:
    rendered = renderer.render(name, lang, sample_context(name, lang))
    assert rendered.subject and "\n" not in rendered.subject
    assert rendered.text.count("\n\n") >= 2  # a greeting, a body, a signature
    assert rendered.html.startswith("<!DOCTYPE html>") and f'<html lang="{lang}">' in rendered.html
    assert "{{" not in rendered.text + rendered.html  # nothing left unrendered


def test_the_template_folders_hold_exactly_the_catalogue_in_both_languages() -> None:
    for lang in LANGUAGES:
        files = {p.stem for p in (TEMPLATES_DIR / lang).glob("*.jinja")} - {"_layout"}
        assert files == set(TEMPLATES), lang


def test_the_two_languages_say_different_things(renderer: Renderer) -> None:
    for name in TEMPLATES:
        fr, en = (renderer.render(name, lang, sample_context(name, lang)) for lang in LANGUAGES)
        assert fr.subject != en.subject and fr.text != en.text, name


@pytest.mark.parametrize("missing", ["posting", "candidate", "org"])
def test_a_missing_variable_fails_instead_of_printing_nothing(
    renderer: Renderer, missing: str
) -> None:
    context = sample_context("application_received", "fr")
    del context[missing]
    with pytest.raises(TemplateProblem, match=f"'{missing}' is undefined"):
        renderer.render("application_received", "fr", context)


def test_a_misspelt_variable_in_an_override_fails(tmp_path: Path) -> None:
    folder = tmp_path / "orgs" / "aibf" / "templates" / "en"
    folder.mkdir(parents=True)
    (folder / "withdrawn.jinja").write_text(
        '{% extends "en/_layout.jinja" %}{% block subject %}Bye {{ candidate.frist_name }}'
        "{% endblock %}"
    )
    renderer = Renderer(overrides_dir=tmp_path / "orgs")
    with pytest.raises(TemplateProblem, match="frist_name"):
        renderer.render("withdrawn", "en", sample_context("withdrawn", "en"), "aibf")
    # Other organisations, and the organisation's other messages, are not affected.
    assert renderer.render("withdrawn", "en", sample_context("withdrawn", "en"), "omct").subject
    assert renderer.render("accepted", "en", sample_context("accepted", "en"), "aibf").subject


def test_user_text_is_escaped_in_html_and_left_alone_in_text(renderer: Renderer) -> None:
    context = sample_context("posting_closed", "en")  # lists "Jean <Martin>"
    rendered = renderer.render("posting_closed", "en", context)
    assert "Jean &lt;Martin&gt;" in rendered.html and "Jean <Martin>" not in rendered.html
    assert "- Jean <Martin> (Application received" in rendered.text


def test_dates_and_amounts_follow_the_language(renderer: Renderer) -> None:
    fr, en = (renderer.render("offer", lang, sample_context("offer", lang)) for lang in LANGUAGES)
    assert "3\u202f200\xa0€ à 3\u202f900\xa0€ par mois" in fr.text
    assert "€3,200 to €3,900 a month" in en.text
    fr, en = (
        renderer.render("interview_scheduled", lang, sample_context("interview_scheduled", lang))
        for lang in LANGUAGES
    )
    assert "mercredi 12 mars 2025 à 14:00 (heure normale d\u2019Europe centrale)" in fr.text
    assert "Wednesday, 12 March 2025 at 14:00 (Central European Standard Time)" in en.text


def test_each_template_is_compiled_once_however_many_messages(monkeypatch) -> None:
    compiled: list[str | None] = []
    original = Environment.compile

    def counting(self, source, name=None, filename=None, raw=False, defer_init=False):
        compiled.append(name)
        return original(self, source, name, filename, raw, defer_init)

    monkeypatch.setattr(Environment, "compile", counting)
    renderer = Renderer()
    context = sample_context("application_received", "fr")
    for _ in range(50):
        renderer.render("application_received", "fr", context)
    # The message and its layout, once in the text environment and once in the HTML one.
    assert sorted(compiled) == sorted(["fr/application_received.jinja", "fr/_layout.jinja"] * 2)


# --- vivier emails ------------------------------------------------------------------------------


def test_vivier_emails_preview_renders_a_template_with_sample_data(vivier) -> None:
    code, out, err = vivier("emails", "preview", "interview_scheduled", "--lang", "fr")
    assert (code, err) == (0, "")
    assert out.startswith("Subject: Invitation à un entretien le 12 mars 2025")
    assert "Bonjour Awa," in out and '<html lang="fr">' in out
    code, out, _ = vivier("emails", "preview", "withdrawn", "--lang", "en", "--part", "subject")
    assert code == 0
    assert out == "Application withdrawn: Coordinateur·rice bénévole des groupes locaux\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nothing_like_it"], "no message 'nothing_like_it'; messages: accepted, "),
        (["withdrawn", "--lang", "de"], "'de'; one of fr, en"),
        (["withdrawn", "--part", "body"], "'body'; subject, text, html or all"),
    ],
)
def test_vivier_emails_preview_refuses_what_does_not_exist(vivier, args, message) -> None:
    code, out, err = vivier("emails", "preview", *args)
    assert code == 2 and out == "" and message in err


def test_vivier_emails_rules_lists_who_is_sent_what(vivier) -> None:
    code, out, err = vivier("emails", "rules")
    assert (code, err) == (0, "")
    assert (
        "volunteer  rejected               on transitioned entered=rejected: "
        "rejected_{rejection_reason} -> candidate" in out
    )
    assert "closed                 on transitioned entered=closed: posting_closed -> owner" in out
