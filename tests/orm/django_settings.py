"""Django settings for running Django's own test suite (runtests.py) against MariaDB with
PyMySQL standing in for mysqlclient: tests/orm/django.sh passes `--settings=django_settings`
with this folder on PYTHONPATH and the server's port in DJANGO_DB_PORT (the plain MariaDB or
the Setwise gateway). Test databases are test_django / test_django_other, utf8mb4 with
utf8mb4_unicode_ci (Django's documented MySQL set-up). DJANGO_SHARDED=1 takes the django_setwise
backend instead (tables sharded by their primary key on the gateway side)."""

import os

import pymysql

pymysql.install_as_MySQLdb()

# DJANGO_SHARDED=1: the django_setwise backend (no foreign keys; shardkey= on the gateway side).
ENGINE = "django_setwise" if os.environ.get("DJANGO_SHARDED") == "1" else "django.db.backends.mysql"


def _db(name):
    return {
        "ENGINE": ENGINE,
        "NAME": name,
        "USER": os.environ.get("DJANGO_DB_USER", "scott"),
        "PASSWORD": os.environ.get("DJANGO_DB_PASSWORD", "tiger"),
        "HOST": "127.0.0.1",
        "PORT": os.environ["DJANGO_DB_PORT"],
        "OPTIONS": {"charset": "utf8mb4"},
        "TEST": {"NAME": f"test_{name}", "CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"},
    }


DATABASES = {"default": _db("django"), "other": _db("django_other")}
SECRET_KEY = "django_tests_secret_key"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = False
TEST_RUNNER = "django_junit.JunitRunner"
