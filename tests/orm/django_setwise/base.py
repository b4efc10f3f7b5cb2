"""DatabaseWrapper of the django_setwise backend (see the package's doc)."""

import os

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


class DatabaseSchemaEditor(schema.DatabaseSchemaEditor):
    def table_sql(self, model):
        sql, params = super().table_sql(model)
        pk = model._meta.pk
        if (
            os.environ.get("DJANGO_SHARDKEY") == "1"
            and pk is not None
            and pk.get_internal_type() in INTEGER_KEYS
        ):
            sql += f" shardkey={pk.column}"
        return sql, params


class DatabaseWrapper(base.DatabaseWrapper):
    features_class = DatabaseFeatures
    SchemaEditorClass = DatabaseSchemaEditor
