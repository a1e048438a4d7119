"""Imports every CLI command module so its commands register on the app.
One line per module; keep the list sorted."""
from . import annotate  # noqa: F401
from . import convert  # noqa: F401
from . import evaluate  # noqa: F401
from . import project  # noqa: F401
from . import serve  # noqa: F401
from . import silver  # noqa: F401
from . import vectors  # noqa: F401
