"""The exceptions of the rule library: one base, so a caller can catch everything it raises.

    PolicyError                  base of every exception paybill_policies raises
    ├── ContextError             (also a LookupError) no tenant or cell for the stack; the message
    │                            names the stack and what the catalog holds
    ├── ConfigError              (also a ValueError) bad policy config: an enforcement level that is
    │                            not one, an unknown pack
    ├── RuleError                (also a ValueError) a rule registered twice, or with a bad pack,
    │                            cloud, severity, enforcement or kind
    ├── InputError               (also a ValueError) a `policy check` input that cannot be read or is
    │                            neither a stack export nor a preview file
    └── Unknown                  a rule needed a value that is not known yet (preview) or not
                                 readable (an encrypted secret): the rule is undecided, not failed

The LookupError and ValueError bases keep `except LookupError` / `except ValueError` callers working.
"""

from __future__ import annotations


class PolicyError(Exception):
    """Base of every exception paybill_policies raises."""


class ContextError(PolicyError, LookupError):
    """The catalog has no tenant or cell for the stack; the message names it."""


class ConfigError(PolicyError, ValueError):
    """Policy config the rules cannot use: the message names the key and the value received."""


class RuleError(PolicyError, ValueError):
    """A rule the registry refuses: registered twice, or with a field outside its allowed values."""


class InputError(PolicyError, ValueError):
    """The file cannot be read or is neither a stack export nor a preview file; the message says why."""


class Unknown(PolicyError):
    """A rule needed a value that is not known yet (preview) or not readable (an encrypted secret)."""

    def __init__(self, path: str):
        super().__init__(f"the value at .{path} can't be known during preview")
        self.path = path
