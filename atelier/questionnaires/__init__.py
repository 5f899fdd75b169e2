"""Questionnaires per scheme: what each scheme asks, versioned, and the dossier's answers."""
