"""Finding dossiers: one search box for agents (reference, company, SIRET/SIREN, project words)."""
