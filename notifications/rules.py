"""Who is told what, and when: notification rules as data (config/notifications/*.toml).

One file per pipeline (`pipeline = "volunteer"`) holds `[[rules]]`, each saying: when this domain
event happens (`on`, narrowed by `event` and `entered`), send this template (`template`) to these
people (`to`), with the interview's calendar file if `attach = "ics"`:

    [[rules]]
    name = "rejected"                       # unique in the pipeline; overrides refer to it
    on = "transitioned"                     # created | transitioned | interview:scheduled |
                                            # interview:rescheduled | interview:cancelled |
                                            # interview:feedback | data_request |
                                            # reminder:KIND
    entered = "rejected"                    # the state entered (a real change of state)
    event = ["reject"]                      # the pipeline event that fired (transitioned only)
    template = "rejected_{rejection_reason}"  # each reason its own text...
    fallback = "rejected_other"             # ...and this one for a reason without a template
    to = ["candidate"]                      # candidate | owner | recruiters | contact |
                                            # interviewers (interview events and reminders) |
                                            # hr (the organisation's HR, else its admins)

An organisation replaces rules with `orgs/SLUG.toml`: its `[[rules]]` name a `pipeline`; a rule of
the same name replaces the default one whole, `enabled = false` removes it, a new name adds one.
Its templates go in `orgs/SLUG/templates/LANG/NAME.jinja` (notifications/render.py).

Everything is checked once, at start-up: an unknown key, event, state, template, recipient or
reminder, a template whose variables the event cannot provide, an organisation template that does
not render with sample data: each is a RulesError naming the file and the line.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from notifications.render import LANGUAGES, TEMPLATES, About, Renderer, sample_context
from workflow.data_requests import DATA_REQUEST
from workflow.errors import WorkflowError
from workflow.interviews import FEEDBACK_REMINDER, INTERVIEW_REMINDER
from workflow.models import EntityType
from workflow.pipeline import Pipeline

NAME = re.compile(r"^[a-z][a-z0-9_]*$")
REASON = "{rejection_reason}"  # the one placeholder a template name may hold
RULE_KEYS = {"name", "on", "event", "entered", "template", "fallback", "to", "attach", "enabled"}
ORG_RULE_KEYS = RULE_KEYS | {"pipeline"}
INTERVIEW_EVENTS = ("scheduled", "rescheduled", "cancelled", "feedback")
INVITATION_EVENTS = ("interview:scheduled", "interview:rescheduled", "interview:cancelled")
INTERVIEW_REMINDERS = (INTERVIEW_REMINDER, FEEDBACK_REMINDER)
RECIPIENTS = ("candidate", "owner", "recruiters", "contact", "interviewers", "hr")
# A candidate's request for a copy of their data, and its reminder when due (to HR).
DATA_REQUEST_EVENTS = (DATA_REQUEST, f"reminder:{DATA_REQUEST}")


class RulesError(WorkflowError):
    """A rule file (or an organisation's template) is wrong; names the file and the line."""

    def __init__(self, path: object, message: str, line: int | None = None) -> None:
        self.path = path
        self.line = line
        self.message = message
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")


@dataclass(frozen=True)
class Rule:
    name: str
    pipeline: str
    on: str
    template: str
    to: tuple[str, ...]
    events: frozenset[str] | None = None
    entered: frozenset[str] | None = None
    fallback: str | None = None
    attach_ics: bool = False
    enabled: bool = True
    path: Path | None = None
    line: int | None = None

    def matches(
        self, name: str, event: str | None, from_state: str | None, to_state: str | None
    ) -> bool:
        """Whether a domain event (its name, pipeline event and states) triggers this rule."""
        if name != self.on:
            return False
        if self.events is not None and event not in self.events:
            return False
        if self.entered is not None:
            return to_state in self.entered and from_state != to_state
        return True

    def template_for(self, rejection_reason: str | None) -> str:
        """The template's name, its placeholder filled (the fallback applies when it is absent)."""
        if REASON not in self.template:
            return self.template
        return self.template.replace(REASON, rejection_reason or "other")


class Rules:
    """The rules of every pipeline, and of each organisation that overrides some."""

    def __init__(self, base: dict[str, list[Rule]], orgs: dict[str, dict[str, list[Rule]]]):
        self.base = base
        self.orgs = orgs
        self._index = {None: _index(base)} | {slug: _index(by) for slug, by in orgs.items()}
        # Every rule of every organisation by (pipeline, event name): the fast way out, before
        # anything is read, for the events no rule of anyone's would send anything for.
        self._anyone: dict[tuple[str, str], list[Rule]] = {}
        for index in self._index.values():
            for key, rules in index.items():
                self._anyone.setdefault(key, []).extend(rules)

    def may_send(self, pipeline: str, name: str, *moved: str | None) -> bool:
        """Whether any organisation's rule matches the event (name, event, from, to state)."""
        return any(rule.matches(name, *moved) for rule in self._anyone.get((pipeline, name), ()))

    def for_event(self, org_slug: str | None, pipeline: str, name: str) -> list[Rule]:
        """The rules of the organisation (or the defaults) listening to event `name`."""
        index = self._index.get(org_slug) or self._index[None]
        return index.get((pipeline, name), [])

    def all(self, org_slug: str | None = None) -> list[Rule]:
        by_pipeline = self.orgs.get(org_slug or "", self.base)
        return [rule for rules in by_pipeline.values() for rule in rules]


def _index(by_pipeline: dict[str, list[Rule]]) -> dict[tuple[str, str], list[Rule]]:
    index: dict[tuple[str, str], list[Rule]] = {}
    for pipeline, rules in by_pipeline.items():
        for rule in rules:
            index.setdefault((pipeline, rule.on), []).append(rule)
    return index


# --- Loading ----------------------------------------------------------------------------------


def load_rules(directory: Path, pipelines: dict[str, Pipeline], renderer: Renderer) -> Rules:
    """The rule files of `directory` and of its `orgs/` folder, checked against the pipelines
    and the templates (an organisation's own templates are rendered with sample data)."""
    base: dict[str, list[Rule]] = {}
    for path in sorted(directory.glob("*.toml")):
        loader = _Loader(path, pipelines)
        pipeline, rules = loader.base_file()
        if pipeline in base:
            raise RulesError(path, f"another file already holds the rules of {pipeline!r}")
        base[pipeline] = rules
    orgs: dict[str, dict[str, list[Rule]]] = {}
    org_dir = directory / "orgs"
    for path in sorted(org_dir.glob("*.toml")):
        orgs[path.stem] = _merge(base, _Loader(path, pipelines).org_file(), path)
    slugs = {p.name for p in org_dir.glob("*") if p.is_dir()} | set(orgs)
    for slug in sorted(slugs):
        check_org_templates(renderer, slug)
    return Rules(base, orgs)


def _merge(base: dict[str, list[Rule]], changes: list[Rule], path: Path) -> dict[str, list[Rule]]:
    """The default rules with an organisation's: same name replaces, disabled removes."""
    merged = {pipeline: list(rules) for pipeline, rules in base.items()}
    for change in changes:
        rules = merged.setdefault(change.pipeline, [])
        names = [rule.name for rule in rules]
        if change.name in names:
            index = names.index(change.name)
            if change.enabled:
                rules[index] = change
            else:
                del rules[index]
        elif change.enabled:
            rules.append(change)
        else:
            raise RulesError(
                path,
                f"rule {change.name!r}: no default rule of that name in pipeline "
                f"{change.pipeline!r} to disable; its rules are {names}",
                change.line,
            )
    return merged


def check_org_templates(renderer: Renderer, slug: str) -> None:
    """Each template an organisation overrides renders in its language with sample data."""
    for path in renderer.overridden(slug):
        lang, name = path.parent.name, path.stem
        if lang not in LANGUAGES:
            raise RulesError(path, f"folder {lang!r} is not a language: one of {LANGUAGES}")
        names = [name] if name != "_layout" else list(TEMPLATES)
        if name not in TEMPLATES and name != "_layout":
            raise RulesError(
                path, f"no message {name!r} to override; messages are {sorted(TEMPLATES)}"
            )
        for each in names:
            try:
                renderer.render(each, lang, sample_context(each, lang), slug)
            except Exception as exc:
                raise RulesError(path, f"does not render with sample data: {exc}") from None


class _Loader:
    def __init__(self, path: Path, pipelines: dict[str, Pipeline]) -> None:
        self.path = path
        self.pipelines = pipelines
        try:
            text = path.read_text(encoding="utf-8")
            self.raw = tomllib.loads(text)
        except OSError as exc:
            raise RulesError(path, f"cannot read: {exc.strerror}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise RulesError(path, f"invalid TOML: {exc}") from None
        self.starts = [i + 1 for i, line in enumerate(text.splitlines())
                       if line.strip() == "[[rules]]"]  # fmt: skip

    def fail(self, message: str, line: int | None = None) -> RulesError:
        return RulesError(self.path, message, line)

    def base_file(self) -> tuple[str, list[Rule]]:
        if unknown := set(self.raw) - {"pipeline", "rules"}:
            raise self.fail(f"unknown key(s) {sorted(unknown)}; expected 'pipeline' and [[rules]]")
        pipeline = self._pipeline(self.raw.get("pipeline"), None)
        rules = [self._rule(body, i, pipeline) for i, body in enumerate(self._bodies())]
        self._unique(rules)
        return pipeline, rules

    def org_file(self) -> list[Rule]:
        if unknown := set(self.raw) - {"rules"}:
            raise self.fail(f"unknown key(s) {sorted(unknown)}; an organisation file has [[rules]]")
        rules = []
        for index, body in enumerate(self._bodies()):
            line = self._line(index)
            pipeline = self._pipeline(
                body.get("pipeline") if isinstance(body, dict) else None, line
            )
            rules.append(self._rule(body, index, pipeline, org=True))
        self._unique(rules)
        return rules

    def _bodies(self) -> list[Any]:
        bodies = self.raw.get("rules", [])
        if not isinstance(bodies, list):
            raise self.fail("rules must be a list of [[rules]] tables")
        return bodies

    def _line(self, index: int) -> int | None:
        return self.starts[index] if index < len(self.starts) else None

    def _pipeline(self, name: Any, line: int | None) -> str:
        if name not in self.pipelines:
            raise self.fail(
                f"pipeline {name!r} is not one of the pipelines {sorted(self.pipelines)}", line
            )
        return name

    def _unique(self, rules: list[Rule]) -> None:
        seen: dict[tuple[str, str], int | None] = {}
        for rule in rules:
            key = (rule.pipeline, rule.name)
            if key in seen:
                raise self.fail(
                    f"rule name {rule.name!r} is used twice (first at line {seen[key]})", rule.line
                )
            seen[key] = rule.line

    def _rule(self, body: Any, index: int, pipeline_name: str, *, org: bool = False) -> Rule:
        line = self._line(index)
        if not isinstance(body, dict):
            raise self.fail(f"rule #{index + 1} must be a table", line)
        if unknown := set(body) - (ORG_RULE_KEYS if org else RULE_KEYS):
            raise self.fail(f"rule #{index + 1}: unknown key(s) {sorted(unknown)}", line)
        name = body.get("name")
        if not isinstance(name, str) or not NAME.match(name):
            raise self.fail(f"rule #{index + 1}: name {name!r} must be a lower-case name", line)
        where = f"rule {name!r}"
        enabled = body.get("enabled", True)
        if not isinstance(enabled, bool):
            raise self.fail(f"{where}: enabled must be true or false", line)
        if not enabled:
            return Rule(name, pipeline_name, "", "", (), enabled=False, path=self.path, line=line)
        pipeline = self.pipelines[pipeline_name]
        rule = Rule(
            name=name,
            pipeline=pipeline_name,
            on=self._on(body.get("on"), pipeline, where, line),
            template="",
            to=(),
            path=self.path,
            line=line,
        )
        rule = replace(
            rule,
            events=self._events(body, rule, pipeline, where),
            entered=self._entered(body, rule, pipeline, where),
        )
        rule = self._templates(body, rule, where)
        rule = replace(rule, to=self._recipients(body.get("to"), rule, where))
        return replace(rule, attach_ics=self._attach(body.get("attach"), rule, where))

    def _on(self, on: Any, pipeline: Pipeline, where: str, line: int | None) -> str:
        known = ["created", "transitioned"]
        if pipeline.entity is EntityType.application:
            known += [f"interview:{what}" for what in INTERVIEW_EVENTS]
            known += [f"reminder:{kind}" for kind in INTERVIEW_REMINDERS]
            known += list(DATA_REQUEST_EVENTS)
        known += [f"reminder:{kind}" for kind in reminder_kinds(pipeline)]
        if on not in known:
            raise self.fail(
                f"{where}: on = {on!r} is not an event of pipeline {pipeline.name!r}; "
                f"one of {', '.join(known)}",
                line,
            )
        return on

    def _names(self, value: Any, key: str, where: str, line: int | None) -> frozenset[str]:
        values = value if isinstance(value, list) else [value]
        if not values or not all(isinstance(v, str) for v in values):
            raise self.fail(f"{where}: {key} must be a name or a list of names", line)
        return frozenset(values)

    def _events(self, body: dict, rule: Rule, pipeline: Pipeline, where: str) -> Any:
        if "event" not in body:
            return None
        if rule.on != "transitioned":
            raise self.fail(f"{where}: 'event' narrows on = 'transitioned' only", rule.line)
        events = self._names(body["event"], "event", where, rule.line)
        if unknown := sorted(events - set(pipeline.events)):
            raise self.fail(
                f"{where}: unknown event(s) {unknown} in pipeline {pipeline.name!r}; "
                f"its events are {pipeline.events}",
                rule.line,
            )
        return events

    def _entered(self, body: dict, rule: Rule, pipeline: Pipeline, where: str) -> Any:
        if "entered" not in body:
            return None
        if rule.on not in ("created", "transitioned"):
            raise self.fail(f"{where}: 'entered' narrows created and transitioned only", rule.line)
        states = self._names(body["entered"], "entered", where, rule.line)
        if unknown := sorted(states - set(pipeline.states)):
            raise self.fail(
                f"{where}: unknown state(s) {unknown} in pipeline {pipeline.name!r}; "
                f"its states are {sorted(pipeline.states)}",
                rule.line,
            )
        return states

    def _templates(self, body: dict, rule: Rule, where: str) -> Rule:
        template, fallback = body.get("template"), body.get("fallback")
        if not isinstance(template, str) or not template:
            raise self.fail(f"{where}: template is missing", rule.line)
        if REASON in template:
            if fallback is None:
                raise self.fail(
                    f"{where}: template {template!r} needs a fallback for the reasons "
                    "without a template of their own",
                    rule.line,
                )
            self._template(fallback, rule, where)
            for name in TEMPLATES:
                if _fits(template, name):
                    self._template(name, rule, where)
        elif fallback is not None:
            raise self.fail(
                f"{where}: fallback is for a template named with {REASON} only", rule.line
            )
        else:
            self._template(template, rule, where)
        return replace(rule, template=template, fallback=fallback)

    def _template(self, name: str, rule: Rule, where: str) -> None:
        if name not in TEMPLATES:
            raise self.fail(
                f"{where}: no template {name!r}; templates are {', '.join(sorted(TEMPLATES))}",
                rule.line,
            )
        needs, has = TEMPLATES[name], event_about(rule.on, self.pipelines[rule.pipeline])
        if not provides(has, needs):
            raise self.fail(
                f"{where}: template {name!r} is about {needs.value} data, which event "
                f"{rule.on!r} does not give (it is about {has.value} data)",
                rule.line,
            )

    def _recipients(self, to: Any, rule: Rule, where: str) -> tuple[str, ...]:
        if not isinstance(to, list) or not to or not all(isinstance(r, str) for r in to):
            raise self.fail(
                f"{where}: to must be a list of recipients, like ['candidate']", rule.line
            )
        about = event_about(rule.on, self.pipelines[rule.pipeline])
        for recipient in to:
            if recipient not in RECIPIENTS:
                raise self.fail(
                    f"{where}: unknown recipient {recipient!r}; one of {', '.join(RECIPIENTS)}",
                    rule.line,
                )
            if recipient == "candidate" and about is About.posting:
                raise self.fail(f"{where}: a posting's event has no candidate", rule.line)
            if recipient == "interviewers" and about is not About.interview:
                raise self.fail(
                    f"{where}: only interview events and reminders have interviewers", rule.line
                )
        if len(set(to)) != len(to):
            raise self.fail(f"{where}: a recipient is listed twice in {to}", rule.line)
        return tuple(to)

    def _attach(self, attach: Any, rule: Rule, where: str) -> bool:
        if attach is None:
            return False
        if attach != "ics":
            raise self.fail(f"{where}: attach = {attach!r}; the one attachment is 'ics'", rule.line)
        if rule.on not in INVITATION_EVENTS:
            raise self.fail(
                f"{where}: the .ics goes with {', '.join(INVITATION_EVENTS)} only", rule.line
            )
        return True


def reminder_kinds(pipeline: Pipeline) -> list[str]:
    """The pipeline's reminders: deadlines that fire no event and run no action."""
    kinds = {
        spec.kind
        for state in pipeline.states.values()
        for spec in state.deadlines
        if spec.event is None and spec.action is None
    }
    return sorted(kinds)


def event_about(on: str, pipeline: Pipeline) -> About:
    """What an event of the pipeline is about, hence which templates it may send."""
    if pipeline.entity is EntityType.posting:
        return About.posting
    if on.startswith("interview:") or on.removeprefix("reminder:") in INTERVIEW_REMINDERS:
        return About.interview
    if on in DATA_REQUEST_EVENTS:
        return About.data_request
    return About.application


def provides(has: About, needs: About) -> bool:
    """An interview's or a data request's event also gives its application; a posting's gives
    only the posting."""
    about_application = (About.interview, About.data_request)
    return needs is has or (has in about_application and needs is About.application)


def _fits(pattern: str, name: str) -> bool:
    """Whether template `name` is one `pattern` (with its placeholder) can give."""
    before, _, after = pattern.partition(REASON)
    return name.startswith(before) and name.endswith(after) and len(name) > len(before + after)
