"""A Django database backend for tests/orm/django.sh's sharded mode (DJANGO_SHARDED=1): Django's
MySQL backend, except that foreign-key constraints are not created (a child row and its parent
can live on different sets), bulk_create does not use INSERT ... RETURNING (refused across sets),
and, when DJANGO_SHARDKEY=1 (the gateway side), each table whose
primary key is one integer column is created with ` shardkey=<that column>`, so the ORM's
queries run across sets and the gateway merges them. The plain side uses the same backend
without shardkey=, so both sides run the same tests with the same features."""
