"""The one exception type that reaches the user: a single line naming the input and what to do."""


class UserError(Exception):
    """Bad input or a failed step the user can act on; printed as one line, never a traceback."""
