"""Imports every CLI command module so its commands register on the app.
One line per module; keep the list sorted."""
from . import project  # noqa: F401
