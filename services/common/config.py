"""The one place that turns a service name into its settings.

Nameko's dependency, Alembic's ``env.py`` and the scripts all call
``db_settings``, so the variable names and defaults live only here
(docs/architecture.md, "Configuration").

TLS, where the broker or a database is remote (docs/operations.md, "TLS to
the broker and the databases"): ``<SERVICE>_DB_SSLMODE`` and
``<SERVICE>_DB_SSLROOTCERT`` go into the database URL, so the services'
engines, Alembic and the scripts all connect alike; an ``amqps://``
``AMQP_URI`` gets the TLS options of ``amqp_ssl``, which is also what
nameko's ``AMQP_SSL`` config holds (services/common/nameko_cli.py).
"""
import os
import ssl
import re
from dataclasses import dataclass, field, replace
from urllib.parse import quote, urlencode, urlsplit

import yaml

SERVICES = ("identity", "learning", "payment", "communication", "ai", "analytics")

# Who connects to RabbitMQ, each as a user of its own with its own
# permissions (services/common/broker.py): the six services, the GraphQL
# gateway, and operators' tools (nameko shell, the scripts, the tests' clients).
PRINCIPALS = SERVICES + ("gateway", "operator")

DEFAULT_AMQP_URI = "pyamqp://guest:guest@127.0.0.1:5672/"


# libpq's sslmode values; only verify-full checks both the certificate
# chain and that it names the server (docs/operations.md, "TLS to the
# broker and the databases").
SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
VERIFYING_SSLMODES = ("verify-ca", "verify-full")


class UnknownService(ValueError):
    pass


@dataclass(frozen=True)
class DbSettings:
    service: str
    host: str
    port: int
    name: str
    user: str
    password: str
    sslmode: str = None       # None: libpq's default (prefer), for a loopback server
    sslrootcert: str = None   # the CA file that verify-ca / verify-full check the server against

    @property
    def url(self) -> str:
        url = "postgresql+psycopg2://{}:{}@{}:{}/{}".format(
            quote(self.user, safe=""), quote(self.password, safe=""),
            self.host, self.port, self.name)
        # Query parameters reach psycopg2's connect() (and so libpq) as they are.
        query = {k: v for k, v in (("sslmode", self.sslmode), ("sslrootcert", self.sslrootcert)) if v}
        return url + "?" + urlencode(query, safe="/", quote_via=quote) if query else url

    def with_name(self, name: str) -> "DbSettings":
        return replace(self, name=name)


def check_service(service: str) -> str:
    if service not in SERVICES:
        raise UnknownService(
            "unknown service {!r}; expected one of {}".format(service, ", ".join(SERVICES)))
    return service


def db_settings(service: str, environ=None) -> DbSettings:
    """``<SERVICE>_DB_*`` settings for one service, with development defaults.

    The defaults give each service its own database and its own role, so a
    fresh checkout works against one local PostgreSQL server.
    """
    env = os.environ if environ is None else environ
    prefix = check_service(service).upper() + "_DB_"
    return DbSettings(
        service=service,
        host=env.get(prefix + "HOST", "127.0.0.1"),
        port=int(env.get(prefix + "PORT", "5432")),
        name=env.get(prefix + "NAME", "edtech_{}_db".format(service)),
        user=env.get(prefix + "USER", "edtech_{}".format(service)),
        password=env.get(prefix + "PASSWORD", "edtech_{}_dev".format(service)),
        **_db_tls(prefix, env),
    )


def _db_tls(prefix, env):
    sslmode = env.get(prefix + "SSLMODE") or None
    sslrootcert = env.get(prefix + "SSLROOTCERT") or None
    if sslmode is not None and sslmode not in SSLMODES:
        raise ValueError("{}SSLMODE must be one of {}, not {!r}".format(prefix, ", ".join(SSLMODES), sslmode))
    if sslrootcert is not None and sslmode not in VERIFYING_SSLMODES:
        # libpq reads the CA file only to verify: without verify-ca or
        # verify-full it would be ignored, and the server not checked.
        raise ValueError("{}SSLROOTCERT is set, so {}SSLMODE must be verify-full (or verify-ca), not {}".format(
            prefix, prefix, sslmode or "unset"))
    return {"sslmode": sslmode, "sslrootcert": sslrootcert}


class MissingSetting(ValueError):
    pass


# A broker user's name is part of its reply queues' names and routing keys
# (services/common/broker.py, adapt_nameko), which must stay one word.
BROKER_USER = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class BrokerSettings:
    """One principal's RabbitMQ login (docs/architecture.md, "The broker")."""
    principal: str
    hosts: tuple             # "host:port" each; more than one makes a failover URI
    vhost: str
    user: str
    password: str = field(repr=False)
    scheme: str = "pyamqp"   # amqps for TLS (amqp_ssl)

    @property
    def uri(self) -> str:
        """kombu's URI; several hosts are joined with ``;``, kombu's failover form."""
        path = "" if self.vhost == "/" else quote(self.vhost, safe="")
        return ";".join("{}://{}:{}@{}/{}".format(
            self.scheme, quote(self.user, safe=""), quote(self.password, safe=""), host, path)
            for host in self.hosts)


def check_principal(principal: str) -> str:
    if principal not in PRINCIPALS:
        raise UnknownService(
            "unknown broker user {!r}; expected one of {}".format(principal, ", ".join(PRINCIPALS)))
    return principal


def broker_user(principal: str, environ=None) -> str:
    """``<PRINCIPAL>_AMQP_USER``, by default ``edtech_<principal>``."""
    env = os.environ if environ is None else environ
    name = check_principal(principal).upper() + "_AMQP_USER"
    user = env.get(name) or "edtech_{}".format(principal)
    if not BROKER_USER.match(user):
        raise ValueError("{} must be letters, digits, _ and - only, not {!r}".format(name, user))
    return user


def broker_settings(principal: str, environ=None) -> BrokerSettings:
    """``<PRINCIPAL>_AMQP_USER`` and ``_PASSWORD`` (``IDENTITY_AMQP_PASSWORD``,
    ``GATEWAY_...``, ``OPERATOR_...``) with the shared ``AMQP_HOST`` (one
    or more, comma-separated; default ``127.0.0.1``), ``AMQP_PORT`` (5672,
    5671 for amqps), ``AMQP_VHOST`` (``/``) and ``AMQP_SCHEME`` (``pyamqp``).

    The user defaults to ``edtech_<principal>``; the password has no
    default: ``scripts/up`` makes them once in ``.run/broker.env``, the
    tests their own (scripts/throwaway.py)."""
    env = os.environ if environ is None else environ
    prefix = check_principal(principal).upper() + "_AMQP_"
    password = env.get(prefix + "PASSWORD")
    if not password:
        raise MissingSetting("{}PASSWORD is not set: scripts/up keeps each broker user's password in "
                             ".run/broker.env (docs/operations.md, \"The broker's users\")".format(prefix))
    user = broker_user(principal, env)
    scheme = env.get("AMQP_SCHEME") or "pyamqp"
    port = env.get("AMQP_PORT") or ("5671" if scheme == "amqps" else "5672")
    hosts = tuple(h if ":" in h else "{}:{}".format(h, port)
                  for h in (x.strip() for x in (env.get("AMQP_HOST") or "127.0.0.1").split(",")) if h)
    return BrokerSettings(principal=principal, hosts=hosts, vhost=env.get("AMQP_VHOST") or "/", user=user,
                          password=password, scheme=scheme)


def amqp_uri(environ=None) -> str:
    """This process's broker URI. scripts/platformctl.py gives each process
    its own user's as ``AMQP_URI`` (docker-compose.yml writes it out); a
    tool started without one connects as the operator when
    ``OPERATOR_AMQP_PASSWORD`` is set (``scripts/up`` and the tests set it)."""
    env = os.environ if environ is None else environ
    if env.get("AMQP_URI"):
        return env["AMQP_URI"]
    if env.get("OPERATOR_AMQP_PASSWORD"):
        return broker_settings("operator", env).uri
    return DEFAULT_AMQP_URI


# scheme://user:PASSWORD@ — the password runs to the part's last "@", so
# one holding a raw "@" or "/" is masked whole (masking too much, never too little).
_URI_PASSWORD = re.compile(r"^(\s*[A-Za-z][A-Za-z0-9+.-]*://[^:@/;]*:)[^;]*(@[^@;]*)$")


def mask_uri(uri, mask="********"):
    """``uri`` with every password replaced by ``mask``, also in a failover
    URI (``a;b;c``), where nameko's ``sanitize_url`` hides only the first
    (nameko/utils/__init__.py). For anything the platform logs or prints."""
    if not isinstance(uri, str):
        return uri
    return ";".join(_URI_PASSWORD.sub(lambda m: m.group(1) + mask + m.group(2), part) for part in uri.split(";"))


def amqp_ssl(uri=None, environ=None):
    """nameko's ``AMQP_SSL`` (kombu's ``ssl``) for ``uri``: None for a
    plain ``pyamqp://`` URI; for ``amqps://`` the broker's certificate is
    required and checked against ``AMQP_SSL_CA_CERTS`` (else the system's
    CAs) and the host name, with ``AMQP_SSL_CERTFILE`` and
    ``AMQP_SSL_KEYFILE`` as the client's own certificate where the broker
    asks for one. The name checked is the URI's first host (one set of
    options serves every connection, also to a failover host), or
    ``AMQP_SSL_SERVER_HOSTNAME``: a name all the brokers' certificates carry.
    ``AMQP_SSL``, when set, is used as it is: a JSON (or YAML flow) mapping,
    read as nameko's config reads it."""
    env = os.environ if environ is None else environ
    if env.get("AMQP_SSL"):
        options = yaml.safe_load(env["AMQP_SSL"])
        if not isinstance(options, dict):
            raise ValueError("AMQP_SSL must be a mapping of TLS options, such as {\"ca_certs\": \"/path/ca.pem\"}")
        return options
    uri = uri or amqp_uri(env)
    parts = urlsplit(uri.split(";")[0].strip())  # a failover URI lists hosts with ";"
    if parts.scheme != "amqps":
        return None
    # py-amqp checks the certificate's name only when it is told the name
    # to expect (its SSLTransport): without it any valid certificate passes.
    options = {"cert_reqs": ssl.CERT_REQUIRED,
               "server_hostname": env.get("AMQP_SSL_SERVER_HOSTNAME") or parts.hostname}
    for option, name in (("ca_certs", "AMQP_SSL_CA_CERTS"), ("certfile", "AMQP_SSL_CERTFILE"),
                         ("keyfile", "AMQP_SSL_KEYFILE")):
        if env.get(name):
            options[option] = env[name]
    return options


def rpc_config(uri=None, environ=None) -> dict:
    """The config a standalone nameko RPC proxy needs (the gateway, the
    scripts): the broker's URI and, for amqps://, its TLS options."""
    uri = uri or amqp_uri(environ)
    config = {"AMQP_URI": uri}
    tls = amqp_ssl(uri, environ)
    if tls is not None:
        config["AMQP_SSL"] = tls
    return config


def admin_db_url(environ=None) -> str:
    """A superuser connection used only by set-up scripts and tests to make
    roles and databases. Services never use it."""
    env = os.environ if environ is None else environ
    return env.get("PG_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
