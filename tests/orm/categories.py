"""Known causes of gateway-only failures in SQLAlchemy's suite: each category is a name, the
issue item it belongs to (issue 10's numbering; "new" if no item covers it) and regular
expressions over the failing test's first error line. The first category that matches wins;
what none matches is "other". Used by compare.py; tests/orm/README.md shows a minimal SQL
reproduction of each.
"""

import re

LEFTOVER = "knock-on: rows/tables/fixtures left by an earlier failure"

# (name, issue item, patterns over the first error line)
CATEGORIES = [
    (
        "savepoint lost (SAVEPOINT opening a transaction)",
        "10.2",
        [r"SAVEPOINT \w+ does not exist"],
    ),
    (
        "lock wait on a transaction the gateway left open",
        "new",
        [r"\(1205, 'Lock wait timeout exceeded"],
    ),
    (
        "session state of another session (SET foreign_key_checks in a transaction)",
        "10.3",
        [r"\(1451, 'Cannot delete or update a parent row"],
    ),
    ("identity: CURRENT_USER()/USER() is the backend account", "10.5", [r"setwise_proxy"]),
    (
        "isolation level ignored",
        "10.4",
        [
            r"(?i)isolation",
            r"READ[- ]COMMITTED|REPEATABLE[- ]READ|SERIALIZABLE",
            r"Transaction characteristics can't be changed",
        ],
    ),
    ("query text not UTF-8 refused (1300)", "10.6", [r"\(1300, "]),
    ("valid names refused (1105 etcd is unreachable ... invalid table)", "10.8", [r"etcd is unreachable"]),
    ("temporary tables refused (1235)", "new", [r"temporary tables through the gateway"]),
    ("views refused (1235)", "new", [r"'(CREATE|DROP|ALTER) VIEW through|'CREATE OR through"]),
    ("sequences refused (1235)", "new", [r"SEQUENCE through the gateway", r"Unknown SEQUENCE"]),
    ("XA statements refused (1235)", "new", [r"XA statements through the gateway"]),
    ("LOCK TABLES refused (1235)", "new", [r"LOCK statements through the gateway"]),
    ("stored routines refused (1235)", "new", [r"(PROCEDURE|FUNCTION) through the gateway", r"statement through the gateway: call"]),
    ("other statements refused (1235)", "new", [r"\(1235, "]),
    ("pytest-timeout (a test hung)", "new", [r"Timeout >\d"]),
    # Knock-on effects: rows or tables an earlier test's failed teardown left behind (its
    # DELETE rolled back with the lost savepoint, a DROP that never ran), or SQLAlchemy
    # fixtures left half-configured by an earlier setup failure.
    (
        LEFTOVER,
        "10.2 (knock-on)",
        [
            r"\(1062, \"Duplicate entry",
            r"already has a primary mapper",
            r"_set_dispose_flags",
            r"MultipleResultsFound",
            r"is already defined for this MetaData",
            r"\(1054, \"Unknown column '[^']*' in 'INSERT INTO'",
            r"'NoneType' object has no attribute 'configured'",
        ],
    ),
]

_COMPILED = [(name, item, [re.compile(p) for p in pats]) for name, item, pats in CATEGORIES]


def categorize(msg, class_had_savepoint_loss=False):
    """(category name, issue item) of a failure's first error line. An otherwise unexplained
    failure in a test class where a savepoint was lost counts as that loss's knock-on."""
    for name, item, pats in _COMPILED:
        if any(p.search(msg) for p in pats):
            return name, item
    if class_had_savepoint_loss:
        return LEFTOVER, "10.2 (knock-on)"
    return "other", "?"
