"""Proving a binary static and complete: the checks, the module tables, the ELF reader and
the start-up benchmark."""
