"""Known causes of gateway-only failures in Django's suite (tests/orm/django.sh): each category
is a name, an issue item ("new" if none) and regular expressions over the failing test's first
error line. The first that matches wins; what none matches is "other". Used by compare.py.
"""

import re

# (name, issue item, patterns over the first error line)
CATEGORIES = []


def categorize(msg, knock_on=False):
    for name, item, patterns in CATEGORIES:
        if any(re.search(p, msg) for p in patterns):
            return name, item
    return "other", "?"
