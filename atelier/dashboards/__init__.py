"""Dashboards: the agency's figures, processing times, and the dossier's path drawn."""
