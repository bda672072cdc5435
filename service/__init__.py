"""Use-case functions: the rules of every domain. No Flask request objects here."""
