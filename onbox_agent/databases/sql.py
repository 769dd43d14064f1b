"""Pure SQL helpers: quoting, SCRAM verifiers, psql's CSV, the read-only console's rules and
the fixed statements the agent runs. Nothing here talks to Docker or PostgreSQL."""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import os
import re

from matrx_ship.errors import InvalidInput

NULL = "\\N"  # how psql prints NULL here (COPY's convention)
READONLY_ROLE = "matrx_readonly"
READ_ONLY_KEYWORDS = ("select", "with", "explain", "show", "table", "values")
IDENT = re.compile(r"[a-z_][a-z0-9_]{0,62}")

STATUS_SQL = """
SELECT current_setting('server_version') AS server_version,
       current_database() AS database,
       pg_database_size(current_database()) AS size_bytes,
       (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()) AS connections,
       current_setting('max_connections')::int AS max_connections,
       pg_postmaster_start_time() AS started_at
"""

SCHEMAS_SQL = """
SELECT n.nspname, c.relname, c.relkind, c.reltuples::bigint, pg_total_relation_size(c.oid)
FROM pg_namespace n
LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
ORDER BY 1, 2
"""

COUNTS_SQL = """
SELECT schemaname || '.' || tablename,
       (xpath('/row/c/text()', query_to_xml(
           format('SELECT count(*) AS c FROM %I.%I', schemaname, tablename),
           false, true, '')))[1]::text::bigint
FROM pg_tables
WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
ORDER BY 1
"""

KINDS = {
    "r": "table",
    "p": "partitioned table",
    "v": "view",
    "m": "materialized view",
    "f": "foreign table",
}


class QueryFailed(InvalidInput):
    code = "query_failed"
    hint = "Read PostgreSQL's message, fix the statement and send it again."

    def __init__(self, message: str) -> None:
        super().__init__(f"PostgreSQL refused the statement: {message}")


def literal(value: str) -> str:
    """A SQL string literal (standard_conforming_strings is on in every supported version)."""
    return "'" + value.replace("'", "''") + "'"


def ident(value: str) -> str:
    """A SQL identifier, quoted."""
    return '"' + value.replace('"', '""') + '"'


def _scram_keys(password: str, salt: bytes, iterations: int) -> tuple[bytes, bytes]:
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    return hashlib.sha256(client_key).digest(), server_key


def scram_verifier(password: str, iterations: int = 4096) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores, so the plain password never leaves us."""
    salt = os.urandom(16)
    stored_key, server_key = _scram_keys(password, salt, iterations)
    b64 = base64.b64encode
    return (
        f"SCRAM-SHA-256${iterations}:{b64(salt).decode()}"
        f"${b64(stored_key).decode()}:{b64(server_key).decode()}"
    )


def scram_matches(password: str, verifier: str | None) -> bool:
    """Whether ``verifier`` (``pg_authid.rolpassword``) is a SCRAM verifier of ``password``.

    Anything else (NULL, md5, a malformed value) counts as not matching, so the password
    is set again."""
    match = re.fullmatch(r"SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)", verifier or "")
    if match is None:
        return False
    iterations, salt, stored, server = match.groups()
    try:
        keys = _scram_keys(password, base64.b64decode(salt), int(iterations))
    except ValueError:
        return False
    want = (base64.b64decode(stored), base64.b64decode(server))
    return all(hmac.compare_digest(a, b) for a, b in zip(keys, want, strict=True))


def parse_csv(text: str, truncated: bool = False) -> list[list[str | None]]:
    """psql's CSV output as rows; NULL (printed as \\N) becomes None; a cut last line dropped."""
    rows = list(csv.reader(io.StringIO(text)))
    if truncated and rows:
        rows.pop()
    return [[None if cell == NULL else cell for cell in row] for row in rows]


def psql_command(sql: str | list[str], db: str, user: str) -> list[str]:
    """psql over the local socket, CSV out, stopping at the first error; one ``-c`` a statement."""
    cmd = ["psql", "-X", "-q", "--csv", "-P", f"null={NULL}", "-v", "ON_ERROR_STOP=1"]
    cmd += ["-U", user, "-d", db]
    for statement in [sql] if isinstance(sql, str) else sql:
        cmd += ["-c", statement]
    return cmd


def readonly_statement(sql: str) -> tuple[str, str]:
    """(statement, keyword) of one read-only statement; InvalidInput for anything else.

    One statement only: a single trailing ``;`` is dropped, any other ``;`` is refused
    (also inside strings: the console is for looking, not for clever SQL). The first
    word must be SELECT, WITH, EXPLAIN, SHOW, TABLE or VALUES. The transaction is read
    only as well, so a data-modifying WITH or EXPLAIN ANALYZE of a write still fails.
    """
    text = sql.strip()
    if text.endswith(";"):
        text = text[:-1].rstrip()
    if not text:
        raise InvalidInput("The statement is empty.", code="empty_statement")
    if ";" in text:
        raise InvalidInput(
            "Only one statement is allowed, and ';' may not appear inside it.",
            hint="Send one SELECT at a time, without ';'.",
            code="multiple_statements",
        )
    match = re.match(r"[A-Za-z]+", text)
    keyword = match.group(0).lower() if match else ""
    if keyword not in READ_ONLY_KEYWORDS:
        raise InvalidInput(
            f"The console only reads: the statement must start with one of "
            f"{', '.join(k.upper() for k in READ_ONLY_KEYWORDS)}.",
            hint="Make changes through the app or a migration, not the console.",
            code="not_read_only",
        )
    return text, keyword


def limited(statement: str, keyword: str, limit: int) -> str:
    """The statement with a row limit the server applies (one row more, to see a cut)."""
    if keyword in ("explain", "show"):
        return statement  # cut while reading instead
    # the console's purpose: the statement passed readonly_statement and runs read only
    return f"SELECT * FROM (\n{statement}\n) AS matrx_console LIMIT {limit + 1}"  # noqa: S608


def columns_sql(schema: str, name: str) -> str:
    """A table's columns in order: name, type, nullable, default."""
    return (
        "SELECT column_name, data_type, is_nullable, column_default "  # noqa: S608
        "FROM information_schema.columns "
        f"WHERE table_schema = {literal(schema)} AND table_name = {literal(name)} "
        "ORDER BY ordinal_position"
    )


def indexes_sql(rel: str) -> str:
    """The indexes of the relation ``rel`` (an oid expression): name, primary, unique, DDL."""
    return (
        "SELECT i.relname, x.indisprimary, x.indisunique, pg_get_indexdef(x.indexrelid) "  # noqa: S608
        f"FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = {rel} "
        "ORDER BY i.relname"
    )


def roles_sql(user: str) -> str:
    """The app user's stored verifier and whether the console's role may read all data."""
    return (
        "SELECT (SELECT rolpassword FROM pg_authid WHERE rolname = "  # noqa: S608
        f"{literal(user)}), EXISTS (SELECT FROM pg_auth_members m "
        "JOIN pg_roles r ON r.oid = m.member JOIN pg_roles g ON g.oid = m.roleid "
        f"WHERE r.rolname = {literal(READONLY_ROLE)} AND g.rolname = 'pg_read_all_data')"
    )


def set_password_sql(user: str, password: str) -> str:
    """Set the user's password as a SCRAM verifier (the plain text never reaches the server)."""
    return f"ALTER ROLE {ident(user)} WITH PASSWORD {literal(scram_verifier(password))}"


READONLY_ROLE_SQL = [
    f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
    f"{literal(READONLY_ROLE)}) THEN CREATE ROLE {READONLY_ROLE} LOGIN; END IF; END $$",
    f"GRANT pg_read_all_data TO {READONLY_ROLE}",
]
