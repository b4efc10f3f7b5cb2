"""SQLAlchemy test requirements with savepoints switched off, for tests/orm/sqlalchemy.sh with
SQLA_NO_SAVEPOINTS=1: tests that need savepoints are skipped and fixtures clean their tables
without them, so what the lost-savepoint bug (issue 10 item 2) hides shows. Imported by
SQLAlchemy's plugin through the test.cfg the script writes beside setup.cfg.
"""

from sqlalchemy.testing import exclusions
from test.requirements import DefaultRequirements


class NoSavepoints(DefaultRequirements):
    @property
    def savepoints(self):
        return exclusions.closed()
