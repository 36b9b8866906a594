"""Blueprints, one per audience: visitors (public) and the sending system (api)."""
