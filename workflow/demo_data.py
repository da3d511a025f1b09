# The seeds are quoted as written, typographic apostrophes (’) included.
# ruff: noqa: RUF001, RUF003
"""The demo's data: the seeds' two organisations and their calls, with fictional staff and
candidates. Logic lives in workflow/demo.py; this file is only facts and a story.

Every date and time here is on the seeds' own calendar, as Brussels wall-clock text
("YYYY-MM-DD HH:MM"): seed 004 (OMCT) closes on 26 May 2024, so "today" on this calendar is
SEED_TODAY, 21 days before. The loader moves the whole calendar by `today - SEED_TODAY` days.

The story. Amnesty International Belgique francophone's previous round of coordinators (a fictional
earlier call, three vacancies, filled): the États-Unis coordinator completed her 24 months two
weeks ago, the Afrique des Grands-Lacs one ended early, the Mexique one ends in six weeks; so the
seed 001 call (three postings, published eight weeks ago, no closing date) recruits successors.
The OMCT's seed 004 call for a programme director (published six weeks ago, closing in 21 days)
is in its early stages; an older, fictional OMCT call for two programme officers (closed) holds the
offer, hired and offer-declined paths.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

SEED_CLOSING = date(2024, 5, 26)  # seed 004's closing date
CLOSING_LEAD_DAYS = 21  # the demo puts it this many days after today
SEED_TODAY = SEED_CLOSING - timedelta(days=CLOSING_LEAD_DAYS)  # 5 May 2024
CONSENT_VERSION = "privacy-2024-01"
MET_NOTE = "Attesté par le dossier de candidature (CV et lettre de motivation)."


# --- Shapes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """An event fired on the seeds' calendar. `by`: a user role, "candidate" or "system"."""

    at: str
    event: str
    by: str = "recruiter"
    reason: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)  # date values move with the calendar


def step(at: str, event: str, by: str = "recruiter", reason: str | None = None, **payload) -> Step:
    return Step(at, event, by, reason, payload)


@dataclass(frozen=True)
class Meeting:
    """An interview with the organisation's two interviewers; one recommendation each (in order)
    once it has taken place, none while it is still to come."""

    at: str
    recommendations: tuple[str, ...] = ()
    note: str = ""
    online: bool = False


@dataclass(frozen=True)
class OrganisationSpec:
    slug: str
    name: str
    language: str
    timezone: str
    since: str
    users: tuple[tuple[str, str, str], ...]  # (role, name, e-mail)
    place: str  # where in-person interviews happen


@dataclass(frozen=True)
class PostingSpec:
    org: str
    ref: str
    created: str
    fields: dict[str, Any]  # PostingCreate's fields, ref and closes_on aside
    closes_on: date | None = None  # on the seeds' calendar
    steps: tuple[Step, ...] = ()


@dataclass(frozen=True)
class ApplicationSpec:
    """One fictional person's application and the path that takes it to `target`.

    `notes`: screening assessment exceptions, keyed by a word of the criterion, (met, note); the
    other criteria are met with MET_NOTE once screening is over."""

    posting: str
    first_name: str
    last_name: str
    email: str
    language: str
    applied: str
    target: str
    source: str = "website"
    steps: tuple[Step, ...] = ()
    meetings: tuple[Meeting, ...] = ()
    notes: dict[str, tuple[bool, str]] = field(default_factory=dict)


# --- Organisations and their (fictional) users ------------------------------------------------

ORGANISATIONS = (
    OrganisationSpec(
        slug="aibf",
        name="Amnesty International Belgique francophone",
        language="fr",
        timezone="Europe/Brussels",
        since="2021-11-15 09:00",
        users=(
            ("admin", "Véronique Dufour", "veronique.dufour@aibf.example.org"),
            ("hr", "Nadia Bensaïd", "nadia.bensaid@aibf.example.org"),
            ("recruiter", "Julien Marchal", "julien.marchal@aibf.example.org"),
            ("interviewer", "Hélène Piron", "helene.piron@aibf.example.org"),
            ("interviewer", "Olivier Mbala", "olivier.mbala@aibf.example.org"),
        ),
        place="Secrétariat national, Bruxelles",
    ),
    OrganisationSpec(
        slug="omct",
        name="OMCT (Organisation mondiale contre la torture), bureau de Bruxelles",
        language="fr",
        timezone="Europe/Brussels",
        since="2023-12-04 09:00",
        users=(
            ("admin", "Claudia Rossi", "claudia.rossi@omct.example.org"),
            ("hr", "Sofia Lindqvist", "sofia.lindqvist@omct.example.org"),
            ("recruiter", "Martin Keller", "martin.keller@omct.example.org"),
            ("interviewer", "Amina Touré", "amina.toure@omct.example.org"),
            ("interviewer", "David Cohen", "david.cohen@omct.example.org"),
        ),
        place="Bureau de l'OMCT, Bruxelles",
    ),
)

# --- Seed 001: Amnesty International Belgique francophone, volunteer coordinators -------------

AIBF_INTRO = (
    "Amnesty International recherche ce qu’elle appelle des coordinateurs·trices bénévoles."
)

AIBF_COORDINATIONS = {
    "États-Unis": "Cette coordination bilingue français-anglais est la référence en matière de politique américaine en général, au droit international et de la Constitution américaine. Elle suit les violations commises dans ce pays et a une excellente connaissance des documents Amnesty.",
    "Afrique des Grands-Lacs": "Cette coordination gère le Burundi, la République démocratique du Congo et le Rwanda.",
    "Mexique": "Dans ce pays, les enjeux relatifs aux droits humains y sont considérables (femmes, peuples autochtones, migrations, drogue, etc.).",
}

AIBF_BODY = """\
CE QU’EST UNE COORDINATION
Une coordination est, à Amnesty International, une structure permanente composée d’une ou plusieurs personnes. Elle·s appuie·nt l’équipe permanente en développant une expertise dans leur domaine. Elle·s propose·nt également des actions visant à améliorer le respect des droits humains dans la région ou la thématique qu’elle·s couvre·nt.
Certaines coordinations représentent Amnesty International dans des plateformes réunissant des organisations actrices dans un domaine spécifique.
Quand elles s’en sentent capables, certaines personnes des coordinations représentent Amnesty International à des débats, des conférences ou des entretiens avec la presse.

Contexte
Pour soutenir le travail de campagne en Belgique francophone, la section belge d’Amnesty International bénéficie de l’aide d’une équipe de bénévoles sur différentes thématiques et pays prioritaires.
Ces coordinateurs travaillent en étroite collaboration avec le Secrétariat national, et plus particulièrement avec les campaigners. Le travail des coordinations s’intègre donc pleinement dans le travail de l’équipe et se fait en lien avec le Secrétariat international d’Amnesty International qui fournit les circulaires d’action.

Que font les coordinations ?
> Développer et entretenir son expertise
La coordinatrice ou le coordinateur se forme et se tient informé·e de l’actualité du pays et du contexte géopolitique de la région, notamment par le suivi de la presse sur le pays. Le travail est, mutatis mutandis, le même en cas de coordination thématique.
> Liaison avec le Secrétariat international (chercheur et responsables campagne)
Il ou elle attire l’attention des campaigners du Secrétariat national belge francophone sur une action proposée par le Secrétariat international.
Il ou elle transmet à ces campaigners des informations en provenance du Secrétariat international, par exemple en cas d’urgence et/ou de période de crise, d’actions non planifiées.
> Soutien de l’équipe Communication-Campagnes de la section belge francophone
Il ou elle est personne de référence lors de demande d’interview dans les médias (soit en tant que porte-parole avec une formation spécifique si nécessaire, soit en soutien au porte-parole de la section)
Si nécessaire, il ou elle soutient, si nécessaire, le responsable des réseaux sociaux du Secrétariat national dans la gestion des commentaires sur Facebook ; il ou elle propose des actions sur les réseaux sociaux.
Il ou elle propose à l’équipe du Secrétariat national en charge des campagnes des actions publiques à organiser en Belgique lors d’événements majeurs liés à son pays/sa thématique (visite de chef d’État ou d’officiel d’un pays, par exemple).
Il soutient le Secrétariat national dans son travail de plaidoyer politique (en accompagnant par exemple la lobbyiste lors d’une visite d’ambassade ou des autorités en Belgique).
Il ou elle propose la rédaction d’un post pour le blog d’Amnesty, qui sera relayé sur Facebook.
En étroite collaboration avec les campaigners du Secrétariat national, il ou elle organise le cas échéant la venue, en Belgique, d’un défenseur des droits humains en Belgique.
Il ou elle connaît les organisations locales actives sur ce pays/cette thématique en Belgique et collabore dans certains cas et sous certaines conditions avec elles (participation aux réunions, représente AI à certaines manifestations, etc.)
> Soutien des groupes dans leurs actions
Il ou elle participe à certaines réunions de groupe pour donner des informations générales sur la situation des droits humains dans le pays concerné.
Il ou elle propose des informations et/ou des actions aux groupes.
Il ou elle répond aux demandes des groupes.
Le cas échéant, il ou elle travaille en étroite collaboration avec l’équipe des individus en danger phares de la section.
> Ancrage d’Amnesty dans la société civile en Belgique
Il ou elle favorise le contact avec les acteurs du milieu (fonctionnaires, ONG, etc.).
Il ou elle représente Amnesty dans différentes plateformes et lors de différentes manifestations en Belgique.
Quand c’est nécessaire, il ou elle collabore avec les barreaux.

Composition d’une coordination
Une coordination peut être une équipe de militant·e·s, mais elle est le plus souvent portée par une personne seule.

DISPONIBILITÉS
Étant un travail bénévole, il vous sera possible de vous organiser en fonction de vos disponibilités et de travailler de chez vous. Il arrive cependant que vous ayez des déplacements à faire pour des actions, des rencontres, des réunions, des présentations, etc. La durée de ce bénévolat ne peut être inférieure à 24 mois. Le nouveau coordinateur/la nouvelle coordinatrice bénéficiera de l’aide de l’équipe de soutien aux coordinations et sera amené-e à suivre des formations spécifiques relatives à sa fonction de coordinateur/trice."""

# LES COMPÉTENCES D’UN·E BON·NE COORDINATEUR·TRICE
AIBF_CRITERIA = [
    "Bonne connaissance de l’organisation Amnesty International",
    "Connaissance des mécanismes internationaux des droits humains",
    "Connaissance et /ou intérêt sur les droits humains et leur défense dans le monde",
    "Connaissance du pays ou de la thématique concerné(e)",
    "Bonne maîtrise de l’anglais",
    "Capacité de rédaction de textes en français et une bonne orthographe",
    "Utilisation des moyens techniques de communication (notamment des réseaux sociaux)",
    "Capacité de présentation et de représentation du travail d’Amnesty International",
    "Capacité à prendre la parole en public, et éventuellement dans les médias (ouverte au suivi d’une formation spécifique à la prise de parole dans les médias) est un atout",
    "Capacité de travailler de manière indépendante",
    "En outre, être disposé·e à s’informer de diverses manières sur une région du monde / un thème, dans le but de devenir un-e spécialiste de la question.",
]

# COMMENT MANIFESTER VOTRE INTÉRÊT
AIBF_HOW_TO_APPLY = "Un tel engagement bénévole vous intéresse ? Communiquez-le à Laurent Deutsch. Elle prendra contact avec vous pour convenir d’une entrevue au cours de laquelle nous pourrons affiner nos attentes respectives."


def aibf_call(coordinations: list[str], preface: str = "", title: str = "") -> dict[str, Any]:
    """The seed 001 call's facts, for the given coordinations (one vacancy each)."""
    parts = [preface, AIBF_INTRO] + [f"{c}\n{AIBF_COORDINATIONS[c]}" for c in coordinations]
    return {
        "kind": "volunteer",
        "pipeline": "volunteer",
        "title": "Coordinateur·trice bénévole — " + (title or ", ".join(coordinations)),
        "description": "\n\n".join(p for p in parts if p) + "\n\n" + AIBF_BODY,
        "location": "Belgique francophone — depuis chez vous, avec des déplacements ponctuels",
        "languages": [{"code": "fr", "level": "required"}, {"code": "en", "level": "required"}],
        "criteria": AIBF_CRITERIA,
        "vacancies": len(coordinations),
        "contact_name": "Laurent Deutsch",
        "how_to_apply": AIBF_HOW_TO_APPLY,
        "commitment_months": 24,
    }


# --- Seed 004: OMCT Brussels, Director of the Human Rights Defenders programme ----------------

OMCT_DIRECTOR_TITLE = "Directeur-rice du programme des défenseurs des droits humains et du plaidoyer auprès de l'Union européenne (100%)"

OMCT_DIRECTOR_DESCRIPTION = """\
Le bureau de l'Organisation mondiale contre la torture à Bruxelles cherche à recruter une personne très motivée et polyvalente, fortement engagée en faveur des droits humains, pour diriger et coordonner les activités du programme de l'OMCT sur les défenseurs des droits humains (80%), et pour mettre en œuvre et coordonner des actions de plaidoyer auprès des institutions de l'Union européenne (UE)(20%).

A PROPOS DE L'OMCT
L'OMCT travaille avec environ 200 organisations membres qui constituent son réseau SOS-Torture, pour mettre fin à la torture, lutter contre l'impunité et protéger les défenseurs des droits humains dans le monde entier. Ensemble, nous formons le plus grand groupe mondial qui s'oppose activement à la torture dans plus de 75 pays. En aidant les voix locales à se faire entendre, nous soutenons nos partenaires essentiels sur le terrain et fournissons une assistance directe aux victimes. Notre secrétariat international est basé à Genève, avec des bureaux à Bruxelles et à Tunis.

RÔLE ET RESPONSABILITÉS
Le/a directeur-rice du programme des défenseurs des droits humains (DDH) travaille sous la supervision du secrétaire général adjoint de l'OMCT et dirige et coordonne les activités du programme des défenseurs des droits humains de l'OMCT, notamment dans le cadre de l'Observatoire pour la protection des défenseurs des droits humains et de ProtectDefenders.eu, et développe, coordonne et met en œuvre des actions de plaidoyer auprès des institutions de l'Union européenne.

Diriger le programme de l'OMCT sur les défenseurs des droits humains (80%)
• Élaborer et diriger la politique globale, la stratégie et l'établissement des priorités pour le programme DDH et contribuer au plan stratégique quadriennal et au plan annuel de l'OMCT et représenter le programme, notamment en établissant des priorités, en équilibrant les besoins à court terme et les objectifs à long terme.
• Superviser et assurer la mise en œuvre des activités globales et la coordination entre les bureaux régionaux de l'OMCT dans leur approche et la mise en œuvre des priorités/activités du programme global.
• Diriger le développement et la mise en œuvre de stratégies de protection efficaces pour les défenseurs des droits humains en danger, y compris en supervisant et en encadrant le travail sur les cas, les interventions urgentes, les communiqués de presse, les observations de procès et d'autres activités de protection dans les cas impliquant des défenseurs des droits humains.
• Superviser et diriger le travail de l'OMCT afin d'accroître le plaidoyer pour la protection des défenseurs des droits humains en détention par le biais de son initiative SOS Défenseurs et le plaidoyer pour favoriser la reconnaissance du droit de défendre les droits, et guider le soutien global de l'OMCT à la relocalisation temporaire des défenseurs des droits humains et aux programmes de réinstallation.
• Superviser et gérer la visibilité du travail de l'OMCT en matière de défense des droits humains, y compris le plaidoyer, les campagnes dans les médias sociaux et la création de coalitions autour du traitement des cas, à la fois dans l'équipe DDH et dans les bureaux régionaux, en coordination avec l'équipe de communication.
• Superviser la fourniture d'un soutien financier à des tiers et d'un soutien individuel aux défenseurs des droits humains par les bureaux régionaux en collaboration avec l'équipe chargée des subventions de l'OMCT.
• Superviser et coordonner les formations pour les défenseurs des droits humains et les efforts visant à renforcer leur résilience.
• Superviser la rédaction, l'édition et la coordination des publications de l'Observatoire pour la protection des défenseurs des droits humains.
• Coopérer avec les mécanismes internationaux et régionaux de protection des défenseurs des droits humains, représenter l'OMCT / l'Observatoire pour la protection des défenseurs des droits humains lors des réunions internationales et tout événement et forum jugé approprié et diriger la convocation des réunions annuelles inter-mécanismes et représenter l'OMCT dans les discussions sur les politiques de protection des défenseurs des droits humains.
• Assurer la liaison avec le secrétariat de ProtectDefenders.eu et les autres partenaires de ce projet pour garantir la mise en œuvre efficace du projet et soutenir la participation de l'OMCT au conseil d'administration de Protectdefenders et à d'autres initiatives.
• Participer et aider à la collecte de fonds et soutenir les rapports aux donateurs pour le travail et les projets de protection des défenseurs des droits humains en collaboration avec l'équipe chargée du développement et les bureaux régionaux.
• Établir et maintenir de bonnes relations avec les donateurs pour les projets programmatiques globaux et obtenir l'approbation finale des rapports narratifs soumis aux donateurs.
• Diriger les activités de planification, de suivi, d'évaluation et d'apprentissage (PMEL) pour le programme des défenseurs des droits humains et les projets globaux sur la base de l'approche PMEL de l'OMCT en collaboration avec le conseiller PMEL de l'OMCT.

Plaidoyer auprès de l'UE (20%)
• Mettre en œuvre et coordonner les actions de plaidoyer de l'OMCT auprès des institutions de l'UE.
• Représenter l'OMCT dans les réunions de l'UE, le cas échéant.

COMPÉTENCES MANAGÉRIALES REQUISES
• Diriger des équipes : capacité à diriger et à gérer une équipe, y compris à atteindre les objectifs de l'équipe.
• Inspirer et motiver : capacité à inspirer et à motiver les membres de l'équipe pour qu'ils réalisent leur potentiel et à créer un environnement de travail positif et stimulant.
• Collaboration au sein de l'équipe : capacité à favoriser une culture d'équipe collaborative et inclusive ; capacité à entretenir des relations de travail positives avec les collègues de l'ensemble de l'organisation.
• Compétences en matière de communication : solides compétences en matière de communication orale et écrite ; capacité d'écoute active ; capacité d'adaptation en fonction des besoins et des parties prenantes.
• Réflexion stratégique : capacité à penser de manière stratégique et à prendre des décisions éclairées qui s'alignent sur les objectifs de l'organisation ; expérience avérée dans l'élaboration et la mise en œuvre de stratégies efficaces.
• Capacité d'adaptation : volonté de s'adapter au changement et de diriger les équipes de manière constructive.
• Compétences en matière de résolution des conflits : capacité à aborder et à résoudre les problèmes au sein de l'équipe en temps voulu par l’accompagnement, en définissant des attentes claires et en adhérant à des normes de comportement positif sur le lieu de travail.
• Compétence en matière de prise de décision : capacité à peser les risques et les avantages afin de déterminer le meilleur plan d'action, capacité à faire preuve de discernement et à faire des choix éclairés.
• Compétences organisationnelles : expérience dans la création et la mise en œuvre de systèmes organisationnels qui améliorent l'efficacité des performances ; capacité à respecter les délais et à fournir des résultats de haute qualité, tout en organisant et en hiérarchisant les tâches de manière efficace.

CE QUE NOUS OFFRONS
L'OMCT est un employeur qui prône l'égalité des chances.
Le salaire mensuel brut se situe entre 4’300 et 5’100 EURO, payé sur 12 mois, en fonction du profil. L'OMCT offre un minimum de 20 jours de vacances dès la première année d’emploi, les avantages sociaux habituels, y compris les chèques-repas, et la possibilité de télétravailler. Pour un contrat à 100%, il est possible de bénéficier du régime des heures de travail flexibles selon le droit de travail belge.
L'OMCT fournira également un processus d'intégration complet afin de pouvoir se familiariser avec les outils, les processus, les projets, etc. de l'OMCT."""

# QUALIFICATIONS REQUISES
OMCT_DIRECTOR_CRITERIA = [
    "Diplôme universitaire en droits humains, relations internationales, droit, sciences politiques ou dans un domaine connexe, un diplôme d'études supérieures étant un atout.",
    "Au moins sept ans d'expérience professionnelle pertinente dans le secteur des droits humains, en relation directe avec la protection des défenseurs des droits humains, au niveau national et/ou international, de préférence avec des organisations de la société civile.",
    "Excellente connaissance du droit international en matière de droits humains et connaissance avérée des procédures des Nations unies et des mécanismes régionaux de protection des droits humains.",
    "Au moins trois ans d'expérience professionnelle dans la gestion d'équipe.",
    "Excellente connaissance des entités pertinentes de l'UE et expérience en matière de plaidoyer auprès de l'UE.",
    "Excellentes compétences en matière de rédaction et d'édition, expérience dans la rédaction de rapports destinés aux mécanismes des Nations unies ou de rapports sur les droits humains et les activités de plaidoyer.",
    "Capacité à travailler sous pression pour respecter les délais et à s'adapter à un travail multidisciplinaire au sein d’une équipe multiculturelle.",
    "Bonnes compétences relationnelles et de communication.",
    "Excellente maîtrise de l'anglais, tant à l'oral qu'à l'écrit. La connaissance d'autres langues (français, espagnol ou russe) sera un atout.",
]

OMCT_SUBJECT = "Director of the HRD Programme"
OMCT_HOW_TO_APPLY = f"Les candidatures comprenant une lettre de motivation et un Curriculum vitae doivent être adressées au Secrétariat international de l'OMCT avec l'objet « {OMCT_SUBJECT} », par e-mail à applications@omct.org."

OMCT_DIRECTOR = {
    "kind": "staff",
    "pipeline": "staff",
    "title": OMCT_DIRECTOR_TITLE,
    "description": OMCT_DIRECTOR_DESCRIPTION,
    "location": "Bruxelles",
    "languages": [
        {"code": "en", "level": "required"},
        {"code": "fr", "level": "asset"},
        {"code": "es", "level": "asset"},
        {"code": "ru", "level": "asset"},
    ],
    "workload": [
        {"label": "HRD programme", "percent": 80},
        {"label": "EU advocacy", "percent": 20},
    ],
    "criteria": OMCT_DIRECTOR_CRITERIA,
    "salary_min": 4300,
    "salary_max": 5100,
    "salary_currency": "EUR",
    "salary_period": "month",
    "salary_payments_per_year": 12,
    "contact_name": "Secrétariat international de l'OMCT",
    "contact_email": "applications@omct.org",
    "how_to_apply": OMCT_HOW_TO_APPLY,
    "application_subject": OMCT_SUBJECT,
    "start_asap": True,
}

# Fictional: an older OMCT call, so that the offer, hired and offer-declined paths have a closed
# posting of their own while the seed's call is still open. No salary: none was published.
OMCT_OFFICER = {
    "kind": "staff",
    "pipeline": "staff",
    "title": "Chargé·e de programme — défenseurs des droits humains",
    "description": "Annonce fictive, créée pour la démonstration de Vivier : deux chargé·e·s de programme pour l'équipe des défenseurs des droits humains (travail sur les cas, interventions urgentes, publications de l'Observatoire), sous la supervision du/de la directeur-rice du programme.",
    "location": "Bruxelles",
    "languages": [{"code": "en", "level": "required"}, {"code": "fr", "level": "asset"}],
    "criteria": [
        "Diplôme universitaire en droits humains, relations internationales, droit ou dans un domaine connexe.",
        "Au moins trois ans d'expérience dans la protection des défenseurs des droits humains.",
        "Expérience du travail sur les cas et des interventions urgentes.",
        "Excellente maîtrise de l'anglais ; le français est un atout.",
    ],
    "vacancies": 2,
    "contact_name": "Secrétariat international de l'OMCT",
    "contact_email": "applications@omct.org",
    "how_to_apply": "Lettre de motivation et CV par e-mail à applications@omct.org, avec l'objet « HRD Programme Officer ».",
    "application_subject": "HRD Programme Officer",
    "start_asap": True,
}

PREVIOUS_CALL = "Appel précédent (données de démonstration) : les trois coordinations ci-dessous ont trouvé leur coordinateur·trice."
COORDINATIONS = list(AIBF_COORDINATIONS)

POSTINGS = (
    PostingSpec(
        "aibf",
        "aibf-previous",
        "2022-01-10 14:00",
        aibf_call(COORDINATIONS, PREVIOUS_CALL, "appel précédent"),
        steps=(
            step("2022-01-17 09:00", "publish"),
            step("2022-03-01 18:00", "close", reason="Trois personnes retenues : appel clos."),
            step("2022-03-28 10:00", "fill", "hr"),
        ),
    ),
    *(
        PostingSpec(
            "aibf",
            ref,
            "2024-03-04 14:00",
            aibf_call([coordination]),
            steps=(step("2024-03-11 09:00", "publish"),),
        )
        for ref, coordination in zip(
            ("aibf-usa", "aibf-grandlacs", "aibf-mexique"),
            COORDINATIONS,
            strict=True,
        )
    ),
    PostingSpec(
        "omct",
        "omct-officers",
        "2024-01-22 11:00",
        OMCT_OFFICER,
        closes_on=date(2024, 2, 25),
        # The scheduler's job at the closing instant (23:59:59 that day, Brussels).
        steps=(step("2024-01-29 09:00", "publish"), step("2024-02-26 00:00", "close", "system")),
    ),
    PostingSpec(
        "omct",
        "omct-director",
        "2024-03-20 11:00",
        OMCT_DIRECTOR,
        closes_on=SEED_CLOSING,
        steps=(step("2024-03-22 09:00", "publish"),),
    ),
)

# --- Fictional candidates, each with the path to its state ------------------------------------

S, M = step, Meeting  # short names for the table below
NOT_QUALIFIED = {"rejection_reason": "not_qualified"}

# fmt: off
APPLICATIONS = (
    # The previous Amnesty round: completed, ended early, still committed, and one candidate the
    # posting's `fill` answered (rejected with reason posting_filled by the service's cascade).
    ApplicationSpec(
        "aibf-previous", "Sophie", "Lambert", "sophie.lambert@example.net", "fr",
        "2022-01-20 19:40", "completed",
        steps=(
            S("2022-01-24 10:00", "screen"),
            S("2022-01-26 10:00", "invite"),
            S("2022-02-07 10:00", "accept"),
            S("2022-02-21 10:00", "start_training"),
            S("2022-04-20 09:00", "start_commitment", commitment_start=date(2022, 4, 20)),
            # The scheduler's job, at the commitment_end deadline (start of that day, Brussels).
            S("2024-04-20 00:00", "complete", "system"),
        ),
        meetings=(M("2022-02-02 10:00", ("strong_yes", "yes"), "Suit la politique américaine depuis des années ; connaît très bien les documents Amnesty."),),
    ),
    ApplicationSpec(
        "aibf-previous", "Nathalie", "Kabongo", "nathalie.kabongo@example.org", "fr",
        "2022-01-22 11:15", "ended_early", source="newsletter",
        steps=(
            S("2022-01-24 10:30", "screen"),
            S("2022-01-26 10:30", "invite"),
            S("2022-02-08 10:00", "accept"),
            S("2022-02-21 10:30", "start_training"),
            S("2022-04-20 09:30", "start_commitment", commitment_start=date(2022, 4, 20)),
            S("2023-09-12 10:00", "end_early", reason="Départ à l'étranger pour un nouvel emploi : fin d'engagement convenue d'un commun accord."),
        ),
        meetings=(M("2022-02-03 14:00", ("yes", "yes"), "Connaît bien les trois pays ; un réseau dans la diaspora à Bruxelles."),),
    ),
    ApplicationSpec(
        "aibf-previous", "Camille", "Rousseau", "camille.rousseau@example.net", "fr",
        "2022-02-03 21:00", "commitment",
        steps=(
            S("2022-02-07 10:00", "screen"),
            S("2022-02-09 10:00", "invite"),
            S("2022-02-22 10:00", "accept"),
            S("2022-03-07 10:00", "start_training"),
            S("2022-06-20 09:00", "start_commitment", commitment_start=date(2022, 6, 20)),
        ),
        meetings=(M("2022-02-16 18:00", ("yes", "strong_yes"), "Hispanophone ; a vécu deux ans à Oaxaca."),),
    ),
    ApplicationSpec(
        "aibf-previous", "Pierre-Yves", "Dumont", "pierre-yves.dumont@example.org", "fr",
        "2022-02-24 20:30", "rejected",
        steps=(S("2022-03-03 10:00", "screen"),),
        notes={"pays": (True, "Bonne connaissance de la région des Grands-Lacs.")},
    ),
    # Seed 001, États-Unis.
    ApplicationSpec(
        "aibf-usa", "Amélie", "Lefèvre", "amelie.lefevre@example.org", "fr",
        "2024-03-11 20:30", "training",
        steps=(
            S("2024-03-13 10:00", "screen"),
            S("2024-03-15 10:00", "invite"),
            S("2024-03-25 10:00", "accept"),
            S("2024-04-08 10:00", "start_training"),
        ),
        meetings=(M("2024-03-21 18:00", ("strong_yes", "yes"), "Bilingue ; très bonne connaissance du droit constitutionnel américain."),),
    ),
    ApplicationSpec(
        "aibf-usa", "Rachel", "Goldberg", "rachel.goldberg@example.net", "en",
        "2024-04-22 08:45", "screening",
        steps=(S("2024-04-29 10:00", "screen"),),
        notes={"anglais": (True, "Langue maternelle."), "rédaction": (True, "Lettre de motivation en français, soignée.")},
    ),
    ApplicationSpec(
        "aibf-usa", "Daniel", "Okafor", "daniel.okafor@example.net", "en",
        "2024-03-18 22:10", "rejected",
        steps=(
            S("2024-03-20 10:00", "screen"),
            S("2024-03-22 11:00", "reject", reason="Coordination bilingue : la rédaction en français n'est pas attestée.", **NOT_QUALIFIED),
        ),
        notes={"rédaction": (False, "Dossier entièrement en anglais ; aucune rédaction en français attestée.")},
    ),
    ApplicationSpec(
        "aibf-usa", "Mehdi", "Benali", "mehdi.benali@example.net", "fr",
        "2024-03-14 21:05", "received",
    ),
    # Seed 001, Afrique des Grands-Lacs.
    ApplicationSpec(
        "aibf-grandlacs", "Jean-Baptiste", "Habimana", "jb.habimana@example.org", "fr",
        "2024-03-20 19:00", "interview", source="referral",
        steps=(S("2024-03-25 10:00", "screen"), S("2024-04-29 10:30", "invite")),
        meetings=(M("2024-05-08 17:30"),),
        notes={"pays": (True, "A grandi à Bujumbura ; suit de près l'actualité de la région.")},
    ),
    ApplicationSpec(
        "aibf-grandlacs", "Chantal", "Uwimana", "chantal.uwimana@example.net", "fr",
        "2024-03-12 12:30", "accepted",
        steps=(
            S("2024-03-18 10:00", "screen"),
            S("2024-03-22 10:00", "invite"),
            S("2024-04-10 10:00", "accept"),
        ),
        meetings=(M("2024-04-03 17:30", ("strong_yes", "yes"), "Excellente connaissance de la région et des ONG actives à Bruxelles."),),
    ),
    ApplicationSpec(
        "aibf-grandlacs", "Grégoire", "Nkurunziza", "gregoire.nkurunziza@example.org", "fr",
        "2024-03-15 18:00", "withdrawn",
        steps=(
            S("2024-03-19 10:00", "screen"),
            S("2024-03-26 10:00", "invite"),
            S("2024-04-02 20:15", "withdraw", "candidate", "Nouvel emploi à temps plein : je n'aurai pas la disponibilité nécessaire."),
        ),
    ),
    ApplicationSpec(
        "aibf-grandlacs", "Fatou", "Ndiaye", "fatou.ndiaye@example.net", "fr",
        "2024-05-02 20:15", "received", source="newsletter",
    ),
    ApplicationSpec(
        "aibf-grandlacs", "Emily", "Carter", "emily.carter@example.org", "en",
        "2024-03-13 09:30", "rejected",
        steps=(
            S("2024-03-18 10:30", "screen"),
            S("2024-03-22 10:30", "invite"),
            S("2024-04-09 10:00", "reject", reason="Un engagement de 24 mois n'est pas possible (départ prévu).", rejection_reason="no_availability"),
        ),
        meetings=(M("2024-04-04 18:00", ("no", "no"), "Très motivée, mais prévoit de quitter la Belgique début 2025.", online=True),),
    ),
    # Seed 001, Mexique.
    ApplicationSpec(
        "aibf-mexique", "Lucía", "Hernández", "lucia.hernandez@example.net", "fr",
        "2024-03-11 13:00", "commitment",
        steps=(
            S("2024-03-12 10:00", "screen"),
            S("2024-03-13 10:00", "invite"),
            S("2024-03-21 10:00", "accept"),
            S("2024-03-25 10:00", "start_training"),
            S("2024-04-22 10:00", "start_commitment", commitment_start=date(2024, 4, 22)),
        ),
        meetings=(M("2024-03-19 18:00", ("strong_yes", "strong_yes"), "Juriste ; a travaillé sur les disparitions forcées."),),
    ),
    ApplicationSpec(
        "aibf-mexique", "Thomas", "Verhaegen", "thomas.verhaegen@example.org", "fr",
        "2024-03-20 21:45", "screening",
        steps=(S("2024-03-27 10:00", "screen"),),
        notes={"pays": (False, "Rien sur le Mexique dans le dossier : à vérifier.")},
    ),
    ApplicationSpec(
        "aibf-mexique", "Inès", "Moreau", "ines.moreau@example.net", "fr",
        "2024-03-25 18:20", "interview", source="event",
        steps=(S("2024-03-29 10:00", "screen"), S("2024-04-08 10:00", "invite")),
        meetings=(M("2024-04-18 18:00", ("yes", "no"), "Bonne connaissance des migrations ; peu disponible en semaine."),),
    ),
    ApplicationSpec(
        "aibf-mexique", "Priya", "Raman", "priya.raman@example.org", "en",
        "2024-03-30 16:00", "withdrawn",
        steps=(S("2024-04-05 08:30", "withdraw", "candidate", "Je ne pourrai finalement pas m'engager pour 24 mois."),),
    ),
    # The same person as above (e-mail written differently): one candidate, two applications.
    ApplicationSpec(
        "aibf-mexique", "Mehdi", "Benali", "Mehdi.Benali@Example.net", "fr",
        "2024-03-16 20:00", "rejected",
        steps=(
            S("2024-03-20 10:30", "screen"),
            S("2024-03-22 11:30", "reject", reason="Pas de connaissance du Mexique attestée ; sa candidature pour les États-Unis reste à examiner.", **NOT_QUALIFIED),
        ),
        notes={"pays": (False, "Aucune connaissance du Mexique attestée.")},
    ),
    # The older, fictional OMCT call (two vacancies, closed): hired, offer declined, offer waiting.
    ApplicationSpec(
        "omct-officers", "Ahmed", "Farouk", "ahmed.farouk@example.net", "en",
        "2024-02-01 10:00", "hired", source="email",
        steps=(
            S("2024-02-27 10:00", "screen"),
            S("2024-02-29 10:00", "invite"),
            S("2024-03-12 10:00", "make_offer", "hr"),
            S("2024-03-19 10:00", "hire", "hr", "Offre acceptée, contrat signé."),
        ),
        meetings=(M("2024-03-06 14:00", ("strong_yes", "yes"), "Cinq ans de travail sur les cas dans une ONG partenaire ; rédaction excellente."),),
    ),
    ApplicationSpec(
        "omct-officers", "Élodie", "Simon", "elodie.simon@example.org", "fr",
        "2024-02-05 20:00", "offer_declined", source="email",
        steps=(
            S("2024-02-27 10:30", "screen"),
            S("2024-02-29 10:30", "invite"),
            S("2024-03-12 11:00", "make_offer", "hr"),
            S("2024-03-18 17:00", "decline_offer", "candidate", "Contre-offre de mon employeur actuel."),
        ),
        meetings=(M("2024-03-07 14:00", ("yes", "yes"), "Très bonne connaissance des mécanismes de l'ONU."),),
    ),
    ApplicationSpec(
        "omct-officers", "Koffi", "Mensah", "koffi.mensah@example.net", "en",
        "2024-02-12 17:00", "offer", source="email",
        steps=(
            S("2024-02-27 11:00", "screen"),
            S("2024-02-29 11:00", "invite"),
            S("2024-03-20 10:00", "next_round", reason="Second tour pour le deuxième poste, après le refus d'une offre."),
            S("2024-04-24 10:00", "make_offer", "hr"),
        ),
        meetings=(
            M("2024-03-08 14:00", ("yes", "no"), "Très bon sur les interventions urgentes ; la rédaction est à revoir."),
            M("2024-04-03 14:00", ("yes", "strong_yes"), "Exercice de rédaction convaincant.", online=True),
        ),
    ),
    ApplicationSpec(
        "omct-officers", "Ingrid", "Nilsson", "ingrid.nilsson@example.org", "en",
        "2024-02-20 09:00", "rejected", source="email",
        steps=(
            S("2024-02-27 11:30", "screen"),
            S("2024-02-28 10:00", "reject", reason="Pas d'expérience du travail sur les cas.", **NOT_QUALIFIED),
        ),
        notes={"cas": (False, "Aucune expérience du travail sur les cas.")},
    ),
    # Seed 004, the programme director: the call is open, the first candidates are being seen.
    ApplicationSpec(
        "omct-director", "Olena", "Petrenko", "olena.petrenko@example.org", "en",
        "2024-03-27 15:10", "interview", source="email",
        steps=(
            S("2024-04-02 10:00", "screen"),
            S("2024-04-08 10:00", "invite"),
            S("2024-04-22 10:00", "next_round", reason="Second tour avec le secrétaire général adjoint."),
        ),
        meetings=(
            M("2024-04-15 14:00", ("yes", "strong_yes"), "Huit ans dans la protection des DDH ; parle russe et français.", online=True),
            M("2024-05-14 11:00"),
        ),
    ),
    ApplicationSpec(
        "omct-director", "Samuel", "Adeyemi", "samuel.adeyemi@example.net", "en",
        "2024-04-10 07:50", "screening", source="email",
        steps=(S("2024-04-16 10:00", "screen"),),
        notes={"sept ans": (True, "Dix ans dans la protection des DDH en Afrique de l'Ouest.")},
    ),
    ApplicationSpec(
        "omct-director", "Aïcha", "Diallo", "aicha.diallo@example.org", "fr",
        "2024-03-26 22:30", "received", source="email",
    ),
    ApplicationSpec(
        "omct-director", "Hannah", "Schmidt", "hannah.schmidt@example.net", "en",
        "2024-05-03 16:40", "received", source="email",
    ),
    ApplicationSpec(
        "omct-director", "Youssef", "El Amrani", "youssef.elamrani@example.org", "fr",
        "2024-03-28 12:00", "rejected", source="email",
        steps=(
            S("2024-04-02 10:30", "screen"),
            S("2024-04-03 09:30", "reject", reason="Quatre ans d'expérience pertinente ; le poste en demande au moins sept.", **NOT_QUALIFIED),
        ),
        notes={"sept ans": (False, "Quatre ans d'expérience pertinente.")},
    ),
    ApplicationSpec(
        "omct-director", "María José", "Castillo", "mj.castillo@example.net", "en",
        "2024-03-29 18:00", "withdrawn", source="email",
        steps=(
            S("2024-04-02 11:00", "screen"),
            S("2024-04-08 10:30", "invite"),
            S("2024-04-26 12:00", "withdraw", "candidate", "J'ai accepté un autre poste."),
        ),
        meetings=(M("2024-04-16 10:00", ("yes", "yes"), "Dix ans dans des ONG latino-américaines ; solide en plaidoyer auprès de l'UE.", online=True),),
    ),
    ApplicationSpec(
        "omct-director", "Tomasz", "Kowalski", "tomasz.kowalski@example.org", "en",
        "2024-03-30 10:00", "rejected", source="email",
        steps=(
            S("2024-04-02 11:30", "screen"),
            S("2024-04-08 11:00", "invite"),
            S("2024-04-24 10:00", "reject", reason="Expérience du plaidoyer auprès de l'UE insuffisante pour le poste.", rejection_reason="interview_outcome"),
        ),
        meetings=(M("2024-04-17 14:00", ("no", "strong_no"), "Solide en droit international ; peu d'expérience du plaidoyer auprès de l'UE."),),
    ),
)
# fmt: on
