"""Dashboards of issue 7: the agency's figures, processing times, and the dossier's path drawn."""
