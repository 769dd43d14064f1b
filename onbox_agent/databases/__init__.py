"""A dedicated PostgreSQL container per service that declares ``database`` in its spec.

For a service ``svc`` the agent makes, once:

    svc-db-net   an internal bridge network shared only by the app and its database
    svc-db-data  a named volume holding PGDATA (kept when containers go)
    svc-db       the database container (labels matrx.managed=true, matrx.kind=database,
                 matrx.database_of=svc; never matrx.service, so the app's deploys ignore it)

and a row in the ``databases`` table with a random password, encrypted at rest. The
app gets ``DATABASE_URL=postgresql://user:pass@svc-db:5432/db`` injected when its
container is created (``Databases.prepare``, the ServiceManager's hook); the URL is never
stored in the spec.

One module per concern: ``records`` (DbInfo, load, ensure_record), ``sql`` (pure helpers),
``access`` (the container, psql, readiness), ``provisioning`` (plan_provision),
``browsing`` (status, schemas, table), ``console`` (query), ``checks`` (audit, check,
suspects, orphans), ``repair`` (plan_repair) and ``dumps`` (for backups: dump_stream,
restore_into, swap_database, table_counts, drop). ``Databases`` is all of them at once.
"""

from __future__ import annotations

from onbox_agent.databases.browsing import Browsing
from onbox_agent.databases.console import Console
from onbox_agent.databases.dumps import Dumps, check_target
from onbox_agent.databases.provisioning import DbObserved, db_create_kwargs, plan_provision
from onbox_agent.databases.records import PGDATA, PORT, DbInfo, resource_names
from onbox_agent.databases.repair import AppObserved, Repair, plan_repair
from onbox_agent.databases.sql import (
    COUNTS_SQL,
    READONLY_ROLE,
    QueryFailed,
    ident,
    limited,
    literal,
    parse_csv,
    readonly_statement,
    scram_matches,
    scram_verifier,
)
from onbox_agent.engine import DATABASE_OF

__all__ = [
    "COUNTS_SQL",
    "DATABASE_OF",
    "PGDATA",
    "PORT",
    "READONLY_ROLE",
    "AppObserved",
    "Databases",
    "DbInfo",
    "DbObserved",
    "QueryFailed",
    "check_target",
    "db_create_kwargs",
    "ident",
    "limited",
    "literal",
    "parse_csv",
    "plan_provision",
    "plan_repair",
    "readonly_statement",
    "resource_names",
    "scram_matches",
    "scram_verifier",
]


class Databases(Repair, Browsing, Console, Dumps):
    """Every service's database: provision, check, repair, browse, query, dump and restore.

    Built once per agent with the Docker client, the state store, the SecretBox, the
    settings, the spec repository, the service locks and the ServiceManager (see
    ``Records.__init__``).
    """
