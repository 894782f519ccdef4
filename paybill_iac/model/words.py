"""Words in messages: counts with the right plural, the right article, "did you mean" suggestions.

One place for them, so that no message says "1 jobs", "a AWS region" or suggests differently from the
next one. Pure (difflib only).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

_IRREGULAR = {"entry": "entries", "policy": "policies", "this": "these", "is": "are", "was": "were"}
# Words starting with a vowel letter and a consonant sound, and the reverse.
_A_BEFORE = ("eu", "uni", "use", "usa", "one")
_AN_BEFORE = ("hour", "honest")
# Initialisms (said letter by letter) whose first letter sounds like a vowel: "an AWS", "an SQL", "an RDS".
_VOWEL_SOUNDING_LETTERS = "aefhilmnorsx"


def plural(count: int, noun: str, many: str | None = None) -> str:
    """`count` and `noun`, plural unless the count is one: plural(1, "job") == "1 job", plural(2, "job") ==
    "2 jobs", plural(3, "entry") == "3 entries"; `many` gives an irregular plural."""
    return f"{count} {noun if count == 1 else many or plural_of(noun)}"


def plural_of(noun: str) -> str:
    if noun in _IRREGULAR:
        return _IRREGULAR[noun]
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    return noun + "s"


def article(word: str) -> str:
    """`word` with "a" or "an" before it, by its sound: "an AWS region", "a Google Cloud region"."""
    first = word.split()[0] if word.split() else word
    if len(first) > 1 and first.isupper():  # an initialism: AWS, OCI, SQL, GCP
        vowel_sound = first[0].lower() in _VOWEL_SOUNDING_LETTERS
    else:
        lower = first.lower()
        vowel_sound = (lower[:1] in "aeiou" and not lower.startswith(_A_BEFORE)) or lower.startswith(_AN_BEFORE)
    return f"{'an' if vowel_sound else 'a'} {word}"


def suggestion(value: str, choices: Iterable[str]) -> str | None:
    """The choice closest to `value` (a typo of it), or None when none is close."""
    found = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    if not found:  # a case slip: 'Acme' for 'acme'
        lowered = {choice.lower(): choice for choice in choices}
        found = [lowered[value.lower()]] if value.lower() in lowered else []
    return found[0] if found else None


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """" (did you mean 'x'?)" when a choice is close to `value`; "" otherwise (for the end of a message)."""
    found = suggestion(value, choices)
    return f" (did you mean '{found}'?)" if found and found != value else ""


def unknown(kind: str, value: str, known: Iterable[str]) -> str:
    """"unknown plan 'x' (did you mean 'y'?)", or with the known ids listed when none is close: how every
    command names an id the catalog does not have."""
    known = list(known)
    hint = did_you_mean(value, known) or f" ({plural_of(kind)}: {listing(known) or 'none'})"
    return f"unknown {kind} '{value}'{hint}"


def listing(names: Iterable[str], limit: int = 12) -> str:
    """Names sorted, comma-separated, at most `limit` of them then "...": for "(plans: a, b, c)"."""
    ordered = sorted(names)
    return ", ".join(ordered[:limit]) + (", ..." if len(ordered) > limit else "")
