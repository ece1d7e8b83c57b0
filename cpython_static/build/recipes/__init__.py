"""Library recipes (``*.toml``) and the few hooks (``*.py``) that need real code."""
