"""Demo data (``flask --app atelier seed-demo``): a small Bourgogne-Franche-Comté, lived in.

Six partner agencies, their committees and schemes, one agent per agency and a
committee secretary wherever there is a committee, an administrator, two
applicants with four companies, and about twenty dossiers in every state a case
or a funding line can be in. Every dossier is brought where it stands by the
operations of ``atelier/cases/`` — submitted, reviewed, handed over,
put before committees, decided, paid — exactly as people would do it on screen,
so the history of each one replays. Nothing here writes a state.

Loading is idempotent: if the demo accounts exist, nothing is done. Everything is
committed once, at the end.
"""
import os
import secrets
from datetime import date, timedelta
from decimal import Decimal

from flask import current_app
from sqlalchemy import select

from ..agencies.models import Agency
from ..auth.models import User
from ..auth.operations import create_user
from ..cases import operations as ops
from ..cases.models import Case, Document
from ..committees.models import Committee, Meeting
from ..committees.operations import create_meeting
from ..companies.models import Company
from ..companies.operations import declare_company
from ..extensions import db
from ..formatting import paris_today
from ..plans import operations as plans
from ..questionnaires.demo import answer_demo_case, create_demo_questionnaires
from ..schemes.models import DOCUMENT_KINDS, Scheme
from .reference import ADMIN, AGENCIES, APPLICANTS, DEMO_PASSWORD, SCHEMES, agent_email, secretary_email
from .reference import DEMO_DOMAIN, demo_accounts  # noqa: F401  (the seed-demo command, tests, screenshots)


# --------------------------------------------------------------------------- loading

def load_demo() -> bool:
    """Load the demo once; ``False`` (and nothing done) when its accounts are already there."""
    if db.session.scalar(select(User.id).where(User.email == ADMIN[0])) is not None:
        return False
    builder = _DemoBuilder()
    try:
        builder.build()
        db.session.commit()
    except BaseException:
        db.session.rollback()
        builder.remove_written_files()
        raise
    return True


class _DemoBuilder:
    def __init__(self):
        self.today = paris_today()
        self.agencies: dict[str, Agency] = {}
        self.agents: dict[str, User] = {}
        self.secretaries: dict[str, User] = {}
        self.committees: dict[str, Committee] = {}
        self.meetings: dict[str, list[Meeting]] = {}  # per agency key: [today, in 2 weeks, in 5 weeks]
        self.schemes: dict[str, Scheme] = {}
        self.applicants: dict[str, User] = {}
        self.companies: dict[str, Company] = {}
        self.written: list[str] = []

    # ----------------------------------------------------------------- people and organisations

    def build(self) -> None:
        self.create_agencies()
        self.create_people()
        self.create_schemes()
        create_demo_questionnaires(self.admin, self.schemes)
        self.create_meetings()
        self.create_companies()
        self.create_cases()
        db.session.flush()

    def create_agencies(self) -> None:
        for spec in AGENCIES:
            agency = db.session.scalar(select(Agency).where(Agency.slug == spec.slug))
            if agency is None:
                agency = Agency(slug=spec.slug, name=spec.name, short_name=spec.short_name, kind=spec.kind,
                                email=spec.email)
                db.session.add(agency)
            self.agencies[spec.key] = agency
            if spec.committee:
                slug, name, _ = spec.committee
                committee = db.session.scalar(select(Committee).where(Committee.slug == slug))
                if committee is None:
                    committee = Committee(agency=agency, name=name, slug=slug)
                    db.session.add(committee)
                self.committees[spec.key] = committee
        db.session.flush()

    def create_people(self) -> None:
        self.admin = create_user(email=ADMIN[0], name=ADMIN[1], password=DEMO_PASSWORD, role="admin")
        for spec in AGENCIES:
            agency = self.agencies[spec.key]
            self.agents[spec.key] = create_user(email=agent_email(spec), name=spec.agent,
                                                password=DEMO_PASSWORD, role="agent", agency=agency)
            if spec.secretary:
                self.secretaries[spec.key] = create_user(
                    email=secretary_email(spec), name=spec.secretary, password=DEMO_PASSWORD, role="agent",
                    agency=agency, is_secretary=True)
        for applicant in APPLICANTS:
            self.applicants[applicant.key] = create_user(email=applicant.email, name=applicant.name,
                                                         password=DEMO_PASSWORD)

    def create_schemes(self) -> None:
        opens_on = date(self.today.year - 1, 1, 1)
        closes_on = date(self.today.year + 2, 12, 31)
        for spec in SCHEMES:
            scheme = db.session.scalar(select(Scheme).where(Scheme.code == spec.code))
            if scheme is None:
                scheme = Scheme(code=spec.code, name=spec.name, agency=self.agencies[spec.agency],
                                committee=self.committees[spec.agency], instrument=spec.instrument,
                                regime=spec.regime, ceiling=Decimal(spec.ceiling),
                                max_rate=Decimal(spec.max_rate), annual_budget=Decimal(spec.annual_budget),
                                opens_on=opens_on, closes_on=closes_on,
                                required_documents=list(spec.documents), description=spec.description,
                                eligible_sizes=list(spec.sizes),
                                eligible_departements=list(spec.departements),
                                excluded_naf=list(spec.excluded_naf))
                db.session.add(scheme)
            self.schemes[spec.code] = scheme
        db.session.flush()

    def create_meetings(self) -> None:
        """Per committee: a meeting today (where the demo's decisions are taken), then two to come."""
        for spec in AGENCIES:
            if not spec.committee:
                continue
            secretary, committee = self.secretaries[spec.key], self.committees[spec.key]
            self.meetings[spec.key] = [
                create_meeting(secretary, committee, self.today + timedelta(days=days), spec.committee[2])
                for days in (0, 14, 35)
            ]

    def create_companies(self) -> None:
        for applicant in APPLICANTS:
            for fields in applicant.companies:
                fields = dict(fields)
                key = fields.pop("key")
                self.companies[key] = declare_company(self.applicants[applicant.key], **fields)

    # ----------------------------------------------------------------- helpers for the stories

    def meeting(self, agency: str, which: str) -> Meeting:
        return self.meetings[agency][{"today": 0, "soon": 1, "later": 2}[which]]

    def draft(self, applicant: str, company: str, title: str, description: str, cost: str,
              lines: list[tuple[str, str]], *, documents=None, minimis=(), months: int = 12) -> Case:
        """A draft with its financing plan, its documents and its de minimis declaration."""
        person = self.applicants[applicant]
        starts_on = self.today + timedelta(days=30)
        case = ops.create_case(person, self.companies[company], title=title, description=description,
                               starts_on=starts_on, ends_on=starts_on + timedelta(days=30 * months),
                               eligible_cost=cost)
        for code, amount in lines:
            ops.add_line(person, case, scheme=self.schemes[code], requested_amount=amount)
        self.plan(case, person, Decimal(cost))
        if documents is None:
            documents = [kind for line in case.lines for kind in line.scheme.required_documents]
        for kind in dict.fromkeys(documents):
            self.attach(case, person, kind)
        answer_demo_case(person, case)  # the questionnaires of its schemes
        if any(line.scheme.is_de_minimis for line in case.lines):
            for granted_on, body, amount in minimis:
                ops.declare_minimis_aid(person, case, granted_on=granted_on, granting_body=body,
                                        amount=amount, regime="de_minimis")
            if not minimis:
                ops.declare_no_minimis(person, case)
        return case

    def plan(self, case: Case, person: User, cost: Decimal) -> None:
        """A balanced financing plan: four fifths of the cost in equipment, the rest in consulting; the
        company's own funds and a bank loan cover what is not asked here."""
        equipment = (cost * Decimal("0.8")).quantize(Decimal("1"))
        expenses = [{"category": "tangible", "label": "Matériel et équipements (devis joints)",
                     "amount": equipment},
                    {"category": "consulting", "label": "Études, conseil et accompagnement",
                     "amount": cost - equipment}]
        rest = cost - case.requested_total
        own = (rest * Decimal("0.4")).quantize(Decimal("1"))
        resources = [{"kind": "own_funds", "label": "Apport des associés", "amount": own},
                     {"kind": "bank_loan", "label": "Prêt bancaire (Crédit Agricole Champagne-Bourgogne)",
                      "amount": rest - own}]
        plans.save_plan(person, case, expenses=expenses,
                        resources=[row for row in resources if row["amount"] > 0])

    def report(self, case: Case, share: Decimal) -> None:
        """The execution report: ``share`` of each planned expense really made, with its invoices."""
        person = case.created_by
        self.attach(case, person, "execution_proof")
        realised = [{"category": expense.category, "label": expense.label,
                     "amount": (expense.amount * share).quantize(Decimal("0.01"))}
                    for expense in case.financing_plan.expenses]
        plans.save_execution_report(person, case, expenses=realised, file=True,
                                    comment="" if share >= 1 else "Une partie des finitions a été "
                                    "abandonnée : les devis prévus n'ont pas tous été engagés.")

    def submitted(self, *args, **kwargs) -> Case:
        case = self.draft(*args, **kwargs)
        ops.submit_case(case.created_by, case)
        return case

    def in_review(self, *args, **kwargs) -> Case:
        case = self.submitted(*args, **kwargs)
        ops.accept_case(self.lead_agent(case), case)
        return case

    def lead_agent(self, case: Case) -> User:
        return self.agent_of(case.lead_agency_id)

    def agent_of(self, agency_id: int) -> User:
        return next(agent for agent in self.agents.values() if agent.agency_id == agency_id)

    def secretary_of(self, agency_id: int) -> User:
        return next(person for person in self.secretaries.values() if person.agency_id == agency_id)

    def line(self, case: Case, code: str):
        return next(line for line in case.lines if line.scheme.code == code)

    def propose(self, case: Case, code: str, amount: str, which: str = "soon"):
        line = self.line(case, code)
        agency_key = next(key for key, agency in self.agencies.items() if agency.id == line.agency_id)
        ops.propose_line(self.agent_of(line.agency_id), line, meeting=self.meeting(agency_key, which),
                         proposed_amount=amount)
        return line

    def approve(self, case: Case, code: str, proposed: str, granted: str, gge: str | None = None):
        line = self.propose(case, code, proposed, "today")
        ops.approve_line(self.secretary_of(line.agency_id), line, granted_amount=granted,
                         gross_grant_equivalent=gge)
        return line

    def sign(self, line, payments=()) -> None:
        agent = self.agent_of(line.agency_id)
        # an advance or a loan: 8 quarterly instalments after a year's deferral (ignored for a grant)
        ops.sign_agreement(agent, line, signed_on=self.today, instalment_count="8", frequency_months="3",
                           deferral_months="12")
        for amount in payments:
            ops.record_payment(agent, line, amount=amount, paid_on=self.today)

    def opinion(self, case: Case, code: str, consulted: str, question: str, *, answer=None):
        line = self.line(case, code)
        opinion = ops.ask_opinion(self.agent_of(line.agency_id), line, agency=self.agencies[consulted],
                                  due_on=self.today + timedelta(days=10), question=question)
        if answer is not None:
            verdict, amount, comment = answer
            ops.give_opinion(self.agents[consulted], opinion, verdict=verdict, intended_amount=amount,
                             comment=comment)
        return opinion

    def attach(self, case: Case, person: User, kind: str) -> Document:
        """A small PDF standing for the document, stored as the documents module stores uploads."""
        folder = current_app.config["UPLOAD_FOLDER"]
        os.makedirs(folder, mode=0o700, exist_ok=True)
        stored_name = secrets.token_hex(16)
        data = _tiny_pdf(f"{DOCUMENT_KINDS[kind]} - {case.company.name} - document de demonstration")
        path = os.path.join(folder, stored_name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self.written.append(path)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        document = Document(case=case, kind=kind, filename=f"{_FILE_NAMES[kind]}.pdf",
                            stored_name=stored_name, content_type="application/pdf", size_bytes=len(data),
                            uploaded_by_id=person.id)
        db.session.add(document)
        db.session.flush()
        return document

    def remove_written_files(self) -> None:
        for path in self.written:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    # ----------------------------------------------------------------- the dossiers

    def create_cases(self) -> None:
        for story in (self.drafts, self.waiting_at_the_window, self.in_instruction, self.before_committees,
                      self.decided_and_paid, self.second_chances, self.ended_early):
            story()

    def drafts(self) -> None:
        self.draft(
            "julien", "menuiserie", "Création d'un showroom à Beaune",
            "Aménagement d'un espace d'exposition de 180 m² à l'entrée de l'atelier pour présenter nos "
            "escaliers et agencements sur mesure aux particuliers et aux architectes.",
            "120000", [("REGION-INVEST-PME", "30000")], documents=["kbis"])
        self.draft(
            "ines", "numerique", "Refonte du site de vente en ligne",
            "Nouveau site marchand pour nos offres d'hébergement et de maintenance, avec paiement en ligne "
            "et espace client, et campagne de référencement en Suisse romande.",
            "40000", [("REGION-CONSEIL-EXPORT", "15000")], documents=[])

    def waiting_at_the_window(self) -> None:
        self.submitted(
            "ines", "optique", "Agrandissement de l'atelier de taille de verres",
            "Extension de 800 m² de l'atelier de Morez et deux centres d'usinage de verres organiques, pour "
            "absorber la hausse des commandes des opticiens indépendants.",
            "600000", [("REGION-INVEST-PME", "150000"), ("BPI-PRET-INNOVATION", "90000")])

        sawmill = self.submitted(
            "julien", "menuiserie", "Reprise de la scierie de Saint-Seine-l'Abbaye",
            "Rachat du fonds de commerce et du matériel de la scierie voisine, dont le dirigeant part à la "
            "retraite : six emplois maintenus et un approvisionnement en chêne local sécurisé.",
            "420000", [("BPI-GARANTIE-REGIONALE", "200000"), ("INITIATIVE21-PRET-HONNEUR", "25000")])
        ops.transfer_lead(self.lead_agent(sawmill), sawmill, agency=self.agencies["initiative"],
                          reason="Le prêt d'honneur conditionne le tour de table bancaire : Initiative "
                                 "Côte-d'Or coordonne le plan de financement de la reprise.")

        polishing = self.submitted(
            "ines", "optique", "Modernisation de la chaîne de polissage",
            "Remplacement des polisseuses de 2009 par une ligne automatisée, moins gourmande en eau et en "
            "énergie.",
            "180000", [("AER-AVANCE-DEVELOPPEMENT", "70000")])
        ops.request_info(self.lead_agent(polishing), polishing,
                         message="Merci de joindre les comptes annuels 2025 certifiés et de préciser "
                                 "le calendrier de livraison de la nouvelle ligne.")
        ops.post_message(polishing.created_by, polishing,
                         body="Les comptes certifiés seront disponibles après l'assemblée générale du "
                              "15 ; je les déposerai aussitôt.")

        organic = self.submitted(
            "julien", "vergers", "Conversion du verger en agriculture biologique",
            "Conversion de 12 hectares de pommiers et de poiriers : filets anti-grêle, désherbage "
            "mécanique et accompagnement technique pendant trois ans.",
            "45000", [("CD21-DIVERSIFICATION-AGRICOLE", "15000")])
        ops.request_info(self.lead_agent(organic), organic,
                         message="Pouvez-vous joindre les devis du matériel de désherbage mécanique ?")
        self.attach(organic, organic.created_by, "quotes")
        ops.resubmit_case(organic.created_by, organic)

    def in_instruction(self) -> None:
        saas = self.in_review(
            "ines", "numerique", "Plateforme SaaS de suivi des déchets pour les collectivités",
            "Développement d'une application qui suit les tournées de collecte et le remplissage des points "
            "d'apport volontaire, testée avec le Grand Besançon.",
            "220000", [("BPI-PRET-INNOVATION", "80000"), ("REGION-CONSEIL-EXPORT", "25000")],
            minimis=[(self.today - timedelta(days=420), "Bpifrance — Bourse French Tech", "30000")])
        self.opinion(saas, "BPI-PRET-INNOVATION", "cci",
                     "La CCI a-t-elle accompagné l'entreprise ? Le marché des collectivités vous "
                     "paraît-il accessible ?")
        ops.post_message(self.agent_of(saas.lead_agency_id), saas,
                         body="Dossier à présenter au comité du mois prochain si l'avis de la CCI est "
                              "favorable.", internal=True)

        lenses = self.in_review(
            "ines", "optique", "Industrialisation d'un verre progressif connecté",
            "Passage du prototype à la petite série : outillages, qualification du procédé et recrutement "
            "de trois techniciens.",
            "300000", [("BPI-PRET-INNOVATION", "90000")], documents=["business_plan", "accounts"])
        line = self.line(lenses, "BPI-PRET-INNOVATION")
        ops.transfer_line(self.agents["bpifrance"], line, agency=self.agencies["aer"],
                          scheme=self.schemes["AER-AVANCE-DEVELOPPEMENT"],
                          reason="La mise au point est achevée : il s'agit désormais d'un programme de "
                                 "développement industriel, qui relève de l'avance remboursable de l'AER.")
        self.opinion(lenses, "AER-AVANCE-DEVELOPPEMENT", "region",
                     "La Région envisage-t-elle de cofinancer l'industrialisation ?",
                     answer=("favourable", "45000", "Projet structurant pour la filière lunetière du "
                             "Haut-Jura ; cofinancement possible au titre de l'aide à l'investissement."))

        renovation = self.in_review(
            "ines", "optique", "Rénovation énergétique de l'atelier de Morez",
            "Isolation de la toiture, pompe à chaleur et récupération de chaleur sur les compresseurs : "
            "40 % d'énergie en moins attendus.",
            "240000", [("REGION-INVEST-PME", "70000"), ("BPI-GARANTIE-REGIONALE", "100000")])
        ops.dismiss_line(self.agents["bpifrance"], self.line(renovation, "BPI-GARANTIE-REGIONALE"),
                         reason="Le prêt bancaire a finalement été refusé : la garantie est sans objet.")

    def before_committees(self) -> None:
        digital_saw = self.in_review(
            "julien", "menuiserie", "Nouvelle ligne de débit numérique",
            "Scie à commande numérique et logiciel d'optimisation des coupes, pour réduire les chutes de "
            "bois de 20 % et produire en série.",
            "400000", [("REGION-INVEST-PME", "100000"), ("BPI-GARANTIE-REGIONALE", "150000")])
        self.propose(digital_saw, "REGION-INVEST-PME", "90000")

        workshop = self.in_review(
            "julien", "vergers", "Atelier de transformation et chambre froide",
            "Création d'un atelier de jus et de compotes et d'une chambre froide de 60 m³ pour vendre à la "
            "ferme et aux magasins de producteurs.",
            "60000", [("CD21-DIVERSIFICATION-AGRICOLE", "20000")])
        self.opinion(workshop, "CD21-DIVERSIFICATION-AGRICOLE", "region",
                     "Le projet est-il éligible au FEADER ? Souhaitez-vous intervenir ?",
                     answer=("reserved", None, "Vérifier que les mêmes dépenses ne sont pas déjà "
                             "présentées au FEADER (mesure transformation à la ferme)."))
        self.propose(workshop, "CD21-DIVERSIFICATION-AGRICOLE", "18000")

        research = self.in_review(
            "ines", "numerique", "Recrutement d'une équipe R&D en intelligence artificielle",
            "Trois ingénieurs pour développer un module de prévision des tournées de collecte, et un "
            "partenariat avec l'université de Franche-Comté.",
            "250000", [("AER-AVANCE-DEVELOPPEMENT", "100000")])
        self.propose(research, "AER-AVANCE-DEVELOPPEMENT", "80000")

        robot = self.in_review(
            "julien", "menuiserie", "Robot de ponçage et cabine de vernissage",
            "Robot de ponçage six axes et cabine de vernissage à eau, pour supprimer les solvants et "
            "améliorer les conditions de travail.",
            "200000", [("REGION-INVEST-PME", "60000")])
        self.approve(robot, "REGION-INVEST-PME", "60000", "55000")

    def decided_and_paid(self) -> None:
        extension = self.in_review(
            "ines", "optique", "Extension du bâtiment de production à Morez",
            "Construction de 1 500 m² d'ateliers et de stockage, et création de douze emplois sur trois ans.",
            "900000", [("REGION-INVEST-PME", "200000"), ("BPI-PRET-INNOVATION", "100000")])
        region_line = self.approve(extension, "REGION-INVEST-PME", "180000", "180000")
        self.sign(region_line, payments=["72000"])
        loan = self.approve(extension, "BPI-PRET-INNOVATION", "100000", "100000", gge="9500")
        self.sign(loan)

        press = self.in_review(
            "julien", "menuiserie", "Acquisition d'une presse plieuse à commande numérique",
            "Presse plieuse de 135 tonnes pour internaliser les pièces métalliques des escaliers, jusqu'ici "
            "sous-traitées en Allemagne.",
            "160000", [("REGION-INVEST-PME", "48000"), ("AER-AVANCE-DEVELOPPEMENT", "60000")])
        self.opinion(press, "AER-AVANCE-DEVELOPPEMENT", "bpifrance",
                     "Bpifrance connaît-elle l'entreprise ? Quel regard sur son endettement ?",
                     answer=("unfavourable", None, "Endettement déjà élevé après la reprise du "
                             "bâtiment en 2023 ; une avance supplémentaire nous paraît risquée."))
        advance = self.propose(press, "AER-AVANCE-DEVELOPPEMENT", "50000", "today")
        ops.reject_line(self.secretaries["aer"], advance,
                        reason="Capacité de remboursement insuffisante au regard de l'endettement existant.")
        grant = self.approve(press, "REGION-INVEST-PME", "48000", "45000")
        self.sign(grant, payments=["30000", "10000"])
        # 150 000 € of the 160 000 € planned were spent: the grant is worth 42 187,50 €, the balance paid
        # at settle is 2 187,50 € and the last 2 812,50 € are released; the case closes.
        self.report(press, Decimal("0.9375"))
        ops.settle_line(self.agents["region"], grant, balance_paid_on=self.today)

        orchard = self.in_review(
            "julien", "vergers", "Installation en agriculture : reprise du verger familial",
            "Reprise de l'exploitation familiale par Julien Bourgeois : rachat des parts et du matériel, "
            "replantation de deux hectares en variétés anciennes.",
            "50000", [("INITIATIVE21-PRET-HONNEUR", "20000")])
        honour_loan = self.approve(orchard, "INITIATIVE21-PRET-HONNEUR", "20000", "20000")
        self.sign(honour_loan, payments=["20000"])
        ops.settle_line(self.agents["initiative"], honour_loan)

    def second_chances(self) -> None:
        export = self.in_review(
            "ines", "optique", "Prospection commerciale en Suisse et en Allemagne",
            "Participation au salon Opti de Munich, mission de prospection en Suisse alémanique et "
            "traduction des catalogues.",
            "50000", [("REGION-CONSEIL-EXPORT", "25000")])
        line = self.propose(export, "REGION-CONSEIL-EXPORT", "25000", "today")
        ops.reject_line(self.secretaries["region"], line,
                        reason="Dépenses de salon engagées avant le dépôt du dossier.")
        ops.reopen_line(self.agents["region"], line,
                        reason="Recours gracieux : les factures produites sont postérieures au dépôt ; "
                               "seul l'acompte de réservation était antérieur.")

        datacentre = self.in_review(
            "ines", "numerique", "Salle serveurs et centre de données de proximité",
            "Aménagement d'une salle serveurs sécurisée à Besançon pour héberger les données des "
            "collectivités clientes en Franche-Comté.",
            "500000", [("REGION-INVEST-PME", "120000")])
        line = self.propose(datacentre, "REGION-INVEST-PME", "120000", "today")
        ops.adjourn_line(self.secretaries["region"], line,
                         reason="Plan de financement à consolider : attendre l'accord de la banque.")
        self.propose(datacentre, "REGION-INVEST-PME", "100000", "later")

    def ended_early(self) -> None:
        popup = self.submitted(
            "ines", "numerique", "Boutique éphémère pour les fêtes de fin d'année",
            "Location d'une boutique en centre-ville de Besançon pendant six semaines pour présenter nos "
            "services aux commerçants.",
            "20000", [("REGION-CONSEIL-EXPORT", "8000")], months=2)
        ops.dismiss_case(self.lead_agent(popup), popup,
                         reason="Dépenses de fonctionnement (loyer, personnel) non éligibles au "
                                "dispositif.")

        truck = self.in_review(
            "julien", "menuiserie", "Achat d'un camion-grue",
            "Camion-grue de 19 tonnes pour livrer et poser les escaliers sur les chantiers.",
            "110000", [("BPI-GARANTIE-REGIONALE", "70000"), ("INITIATIVE21-PRET-HONNEUR", "15000")])
        ops.withdraw_case(truck.created_by, truck,
                          reason="Le camion a finalement été financé en crédit-bail par le "
                                 "concessionnaire.")

        cellar = self.draft(
            "julien", "vergers", "Cave de dégustation à la ferme",
            "Aménagement d'une ancienne grange en cave de dégustation de cidres et de jus.",
            "35000", [("CD21-DIVERSIFICATION-AGRICOLE", "10000")], documents=[])
        ops.withdraw_case(cellar.created_by, cellar, reason="Projet reporté à l'an prochain.")


_FILE_NAMES = {
    "kbis": "extrait-kbis",
    "business_plan": "plan-affaires",
    "quotes": "devis",
    "accounts": "comptes-annuels-2024",
    "rib": "rib",
    "tax_certificate": "attestation-fiscale-sociale",
    "other": "piece-complementaire",
    "execution_proof": "factures-acquittees",
}


def _tiny_pdf(text: str) -> bytes:
    """A valid one-page PDF showing ``text`` (ASCII) in Helvetica."""
    safe = text.encode("ascii", "replace").decode()
    safe = safe.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    content = f"BT /F1 12 Tf 50 780 Td ({safe}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(content)).encode() + b" >>\nstream\n" + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)
