"""The one exception type for mistakes in a problem description."""


class ProblemError(ValueError):
    """A problem description is invalid.

    The message names the culprit (a symbol, a condition, a data variable) and says how to fix
    it; the command line prints it without a traceback.
    """
