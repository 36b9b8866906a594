"""Consentry: the consent ledger, its forms and its mail, as a Chalice app."""
