"""A platform of its own for a test run or a benchmark: throwaway databases
and roles (``edtech_<service>_<tag>``), and a RabbitMQ vhost with a user
per principal (``edtech_<principal>_<tag>``, services/common/broker.py), so
development data and a platform started by ``scripts/up`` are never touched."""
import os
import subprocess

from services.common import broker, migrations, provision
from services.common.config import PRINCIPALS, SERVICES, broker_settings, db_settings


def rabbitmqctl(*args):
    return subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, text=True, timeout=120)


class Throwaway:
    def __init__(self, tag):
        self.tag = tag
        self.vhost = "edtech-{}".format(tag)
        self.made = []

    def configure(self, environ=os.environ):
        """Point every ``<SERVICE>_DB_*`` and ``<PRINCIPAL>_AMQP_*`` at the
        throwaway names, and ``AMQP_URI`` (what the tests' own clients use)
        at the operator's login; each process of the run gets its own
        (scripts/platformctl.py)."""
        for service in SERVICES:
            prefix = service.upper() + "_DB_"
            environ[prefix + "NAME"] = "edtech_{}_{}".format(service, self.tag)
            environ[prefix + "USER"] = "edtech_{}_{}".format(service, self.tag)
            environ[prefix + "PASSWORD"] = "pw_{}_{}".format(service, self.tag)
        environ["AMQP_VHOST"] = self.vhost
        for principal in PRINCIPALS:
            prefix = principal.upper() + "_AMQP_"
            environ[prefix + "USER"] = "edtech_{}_{}".format(principal, self.tag)
            environ[prefix + "PASSWORD"] = broker.new_password()
        environ["AMQP_URI"] = broker_settings("operator", environ).uri

    def create_databases(self):
        for service in SERVICES:
            settings = db_settings(service)
            provision.ensure_service_database(settings)
            self.made.append(settings)
            migrations.upgrade(service)
        return {s.service: s for s in self.made}

    def drop_databases(self):
        for settings in self.made:
            provision.drop_service_database(settings)
        self.made = []

    @property
    def admin_amqp_uri(self):
        """The broker's administrator on loopback (guest), for the benchmark's
        raw kombu baseline, which uses the default exchange that no
        platform user may publish to (scripts/bench.py)."""
        return "pyamqp://guest:guest@127.0.0.1:5672/" + self.vhost

    def create_vhost(self):
        rabbitmqctl("add_vhost", self.vhost)
        rabbitmqctl("set_permissions", "-p", self.vhost, "guest", ".*", ".*", ".*")
        broker.provision()  # the users, their permissions and the exchanges

    def drop_vhost(self):
        rabbitmqctl("delete_vhost", self.vhost)
        broker.remove_users()
