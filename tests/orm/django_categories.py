"""Known causes of gateway-only failures in Django's suite (tests/orm/django.sh): each category
is a name, an issue item ("new" if none) and regular expressions over the failing test's first
error line. The first that matches wins; what none matches is "other". Used by compare.py.
"""

import re

# (name, issue item, patterns over the first error line)
CATEGORIES = [
    (
        "refused (1235): a shape the gateway does not run across sets (README's list)",
        "known",
        [r"\(1235, "],
    ),
    (
        "knock-on: an earlier error in the test's atomic block",
        "knock-on",
        [r"TransactionManagementError"],
    ),
    (
        "sharded mode: a UNIQUE key is enforced per set, not across sets",
        "known",
        [r"IntegrityError not raised", r"DatabaseError not raised"],
    ),
    (
        "outer join across sets: IS NULL / COALESCE over the null-extended table "
        "(fixed: refused with 1235 since)",
        "fixed",
        [r"NullJoinPromotion|EmptyStringsAsNull|nulls_(first|last)"],
    ),
    (
        "the test counts queries or reads EXPLAIN / SQL text (the gateway's plan differs)",
        "environment",
        [r"queries executed", r"QuerySet.explain\(\)", r"unexpectedly found in 'SELECT"],
    ),
]


def categorize(msg, knock_on=False):
    for name, item, patterns in CATEGORIES:
        if any(re.search(p, msg) for p in patterns):
            return name, item
    return "other", "?"
