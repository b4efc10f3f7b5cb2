"""DatabaseWrapper of the django_setwise backend (see the package's doc)."""

import os
import sys

from django.db.backends.mysql import base, features, schema

INTEGER_KEYS = {
    "AutoField",
    "BigAutoField",
    "SmallAutoField",
    "IntegerField",
    "BigIntegerField",
    "SmallIntegerField",
    "PositiveIntegerField",
    "PositiveBigIntegerField",
    "PositiveSmallIntegerField",
}


class DatabaseFeatures(features.DatabaseFeatures):
    supports_foreign_keys = False
    # bulk_create's multi-row INSERT ... RETURNING lands on several sets, which the
    # gateway refuses (1235: their rows are not merged yet); without it Django
    # inserts the rows and leaves their pks unset, on both sides alike.
    can_return_rows_from_bulk_insert = False


class DatabaseSchemaEditor(schema.DatabaseSchemaEditor):
    def table_sql(self, model):
        sql, params = super().table_sql(model)
        pk = model._meta.pk
        if (
            os.environ.get("DJANGO_SHARDKEY") == "1"
            and pk is not None
            and pk.get_internal_type() in INTEGER_KEYS
        ):
            # Quoted: a column name may have a space ("Entry ID").
            quoted = pk.column.replace("`", "``")
            sql += f" shardkey=`{quoted}`"
        return sql, params


class DatabaseWrapper(base.DatabaseWrapper):
    features_class = DatabaseFeatures
    SchemaEditorClass = DatabaseSchemaEditor


class CursorWrapper(base.CursorWrapper):
    """Prints the statement of every database error to stderr (runtests.py's log), so a
    difference can be reduced to its SQL."""

    def execute(self, query, args=None):
        try:
            return super().execute(query, args)
        except Exception as e:
            print(f"SETWISE-FAILED-SQL: {e!r}: {query} {args!r}", file=sys.stderr)
            raise

    def executemany(self, query, args):
        try:
            return super().executemany(query, args)
        except Exception as e:
            print(f"SETWISE-FAILED-SQL: {e!r}: {query} (executemany)", file=sys.stderr)
            raise


def _create_cursor(self, name=None):
    return CursorWrapper(self.connection.cursor())


DatabaseWrapper.create_cursor = _create_cursor
