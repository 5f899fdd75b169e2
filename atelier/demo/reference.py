"""The demo's cast: the six partner agencies with their committees and people, their schemes, the
applicants and their companies, and the administrator; their logins share one password.
"""
from dataclasses import dataclass

DEMO_PASSWORD = "demo-atelier-2026"
DEMO_DOMAIN = "demo.atelier.fr"


# --------------------------------------------------------------------------- reference data

@dataclass(frozen=True)
class AgencySpec:
    key: str  # the part of the demo e-mail addresses: agent.<key>@demo.atelier.fr
    slug: str
    name: str
    short_name: str
    kind: str
    email: str
    committee: tuple[str, str, str] | None  # (slug, name, place of its meetings)
    agent: str
    secretary: str | None


AGENCIES = [
    AgencySpec("region", "region-bfc", "Région Bourgogne-Franche-Comté", "Région BFC", "region",
               "aides.entreprises@bourgognefranchecomte.fr",
               ("commission-permanente-region-bfc", "Commission permanente du Conseil régional",
                "Hôtel de Région, Dijon — salle des commissions"),
               "Mathilde Roussel", "Bertrand Fauconnet"),
    AgencySpec("aer", "aer-bfc", "Agence économique régionale de Bourgogne-Franche-Comté", "AER BFC",
               "development_agency", "contact@aer-bfc.com",
               ("comite-engagement-aer-bfc", "Comité d'engagement de l'AER BFC", "AER BFC, Besançon"),
               "Karim Benali", "Hélène Gauthier"),
    AgencySpec("bpifrance", "bpifrance-bfc", "Bpifrance Bourgogne-Franche-Comté", "Bpifrance BFC", "bank",
               "dijon@bpifrance.fr",
               ("comite-engagement-bpifrance-bfc", "Comité régional d'engagement Bpifrance",
                "Bpifrance, Dijon"),
               "Nicolas Perrin", "Agnès Mercier"),
    AgencySpec("cci", "cci-bfc", "CCI Bourgogne-Franche-Comté", "CCI BFC", "chamber",
               "entreprises@bfc.cci.fr", None, "Lucie Garnier", None),
    AgencySpec("cotedor", "departement-cote-d-or", "Département de la Côte-d'Or", "Côte-d'Or",
               "departement", "agriculture@cotedor.fr",
               ("commission-permanente-cote-d-or", "Commission permanente du Département de la Côte-d'Or",
                "Hôtel du Département, Dijon"),
               "François Moreau", "Isabelle Chevalier"),
    AgencySpec("initiative", "initiative-cote-d-or", "Initiative Côte-d'Or", "Initiative 21",
               "loan_network", "contact@initiative-cotedor.fr",
               ("comite-agrement-initiative-cote-d-or", "Comité d'agrément Initiative Côte-d'Or",
                "Maison de l'entreprise, Dijon"),
               "Paul Lefèvre", "Sandrine Vidal"),
]


@dataclass(frozen=True)
class SchemeSpec:
    code: str
    agency: str  # AgencySpec.key
    name: str
    instrument: str
    regime: str
    ceiling: str
    max_rate: str
    annual_budget: str
    documents: tuple[str, ...]
    description: str
    # Eligibility rules (Scheme.eligible_sizes, eligible_departements, excluded_naf): empty = no restriction.
    sizes: tuple[str, ...] = ()
    departements: tuple[str, ...] = ()
    excluded_naf: tuple[str, ...] = ()


SME = ("micro", "small", "medium")  # PME au sens européen
NOT_FINANCE = ("K",)  # the financial and insurance activities, excluded by the economic-development aids
ONLY_AGRICULTURE = tuple(letter for letter in "BCDEFGHIJKLMNOPQRSTU")  # every section but A


SCHEMES = [
    SchemeSpec("REGION-INVEST-PME", "region", "Aide régionale à l'investissement des PME", "grant", "gber",
               "200000", "0.30", "12000000", ("kbis", "quotes"),
               "Subvention aux investissements matériels et immobiliers des PME industrielles et "
               "artisanales de production : jusqu'à 30 % des dépenses éligibles (régime d'exemption "
               "RGEC, article 17).", sizes=SME, excluded_naf=("A", "K")),
    SchemeSpec("REGION-CONSEIL-EXPORT", "region", "Aide au conseil et à la prospection internationale",
               "grant", "de_minimis", "30000", "0.50", "1500000", ("quotes",),
               "Subvention des prestations de conseil, des salons et des missions de prospection à "
               "l'étranger : 50 % des dépenses, au titre du règlement de minimis.", sizes=SME,
               excluded_naf=("A", "K")),
    SchemeSpec("AER-AVANCE-DEVELOPPEMENT", "aer", "Avance remboursable Développement", "repayable_advance",
               "de_minimis", "150000", "0.50", "6000000", ("business_plan", "accounts"),
               "Avance sans intérêt ni garantie, remboursable sur cinq ans après un différé d'un an, "
               "pour les programmes de développement des PME (emploi, capacité de production).", sizes=SME,
               excluded_naf=("A", "K")),
    SchemeSpec("BPI-PRET-INNOVATION", "bpifrance", "Prêt d'innovation à taux zéro", "zero_rate_loan",
               "de_minimis", "100000", "0.50", "8000000", ("business_plan",),
               "Prêt à taux zéro cofinancé par la Région pour les projets d'innovation : mise au point "
               "d'un produit, d'un procédé ou d'un service nouveau jusqu'à sa mise sur le marché.",
               sizes=SME, excluded_naf=("A", "K")),
    SchemeSpec("BPI-GARANTIE-REGIONALE", "bpifrance", "Garantie régionale des prêts bancaires", "guarantee",
               "gber", "300000", "0.70", "20000000", ("rib",),
               "Garantie jusqu'à 70 % des prêts bancaires finançant la création, la reprise ou le "
               "développement des PME, avec le fonds régional de garantie.", sizes=SME,
               excluded_naf=NOT_FINANCE),
    SchemeSpec("CD21-DIVERSIFICATION-AGRICOLE", "cotedor", "Aide à la diversification agricole", "grant",
               "de_minimis_agri", "30000", "0.40", "900000", ("kbis",),
               "Subvention aux exploitations de Côte-d'Or qui transforment ou vendent leur production "
               "à la ferme : ateliers de transformation, points de vente, conversion en agriculture "
               "biologique.", sizes=("micro", "small"), departements=("21",),
               excluded_naf=ONLY_AGRICULTURE),
    SchemeSpec("INITIATIVE21-PRET-HONNEUR", "initiative", "Prêt d'honneur Création-Reprise", "honour_loan",
               "none", "30000", "0.50", "1200000", ("business_plan",),
               "Prêt personnel à taux zéro et sans garantie accordé au créateur ou au repreneur, pour "
               "renforcer ses fonds propres et faciliter le prêt bancaire ; parrainage pendant trois ans.",
               sizes=("micro", "small"), departements=("21",), excluded_naf=NOT_FINANCE),
]


@dataclass(frozen=True)
class ApplicantSpec:
    key: str
    email: str
    name: str
    role_label: str
    companies: tuple[dict, ...]


APPLICANTS = [
    ApplicantSpec("julien", f"porteur@{DEMO_DOMAIN}", "Julien Bourgeois", "Porteur de projet", (
        dict(key="menuiserie", siret="81234567600017", name="Menuiserie Bourgeois et Fils", legal_form="SARL",
             naf_code="16.23Z", headcount="18", turnover="2400000", balance_sheet="1500000",
             address="12 route de Savigny", postcode="21200", commune="Beaune", departement="21"),
        dict(key="vergers", siret="52498731000025", name="EARL Les Vergers de la Tille", legal_form="EARL",
             naf_code="01.24Z", headcount="4", turnover="380000", balance_sheet="520000",
             address="Chemin des Vergers", postcode="21120", commune="Is-sur-Tille", departement="21"),
    )),
    ApplicantSpec("ines", f"porteuse@{DEMO_DOMAIN}", "Inès Morel", "Porteuse de projet", (
        dict(key="optique", siret="83061524100031", name="Optique Jurassienne de Précision",
             legal_form="SAS", naf_code="32.50B", headcount="45", turnover="6800000", balance_sheet="4100000",
             address="5 rue de la République", postcode="39400", commune="Morez", departement="39"),
        dict(key="numerique", siret="90117342700013", name="Numérique Comtois", legal_form="SAS",
             naf_code="62.01Z", headcount="7", turnover="650000", balance_sheet="400000",
             address="18 rue Alain Savary", postcode="25000", commune="Besançon", departement="25"),
    )),
]
ADMIN = (f"admin@{DEMO_DOMAIN}", "Sophie Lambert")


def agent_email(spec: AgencySpec) -> str:
    return f"agent.{spec.key}@{DEMO_DOMAIN}"


def secretary_email(spec: AgencySpec) -> str:
    return f"secretaire.{spec.key}@{DEMO_DOMAIN}"


def demo_accounts() -> list[tuple[str, str]]:
    """Every demo login with what it is, in French (``flask demo-logins``)."""
    accounts = [(ADMIN[0], f"Administratrice de la plateforme ({ADMIN[1]})")]
    for applicant in APPLICANTS:
        companies = ", ".join(company["name"] for company in applicant.companies)
        accounts.append((applicant.email, f"{applicant.role_label} ({applicant.name}) — {companies}"))
    for spec in AGENCIES:
        accounts.append((agent_email(spec), f"Agent instructeur ({spec.agent}) — {spec.name}"))
        if spec.secretary:
            accounts.append((secretary_email(spec),
                             f"Secrétaire de comité ({spec.secretary}) — {spec.name}"))
    return accounts
