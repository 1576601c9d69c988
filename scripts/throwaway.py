"""A platform of its own for a test run or a benchmark: throwaway databases
and roles (``edtech_<service>_<tag>``) and a RabbitMQ vhost, so development
data and a platform started by ``scripts/up`` are never touched."""
import os
import secrets
import subprocess

from services.common import migrations, provision
from services.common.config import SERVICES, db_settings


def rabbitmqctl(*args):
    return subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, text=True, timeout=120)


class Throwaway:
    def __init__(self, tag):
        self.tag = tag
        self.vhost = "edtech-{}".format(tag)
        self.made = []

    def configure(self, environ=os.environ):
        """Point every ``<SERVICE>_DB_*`` and ``AMQP_URI`` at the throwaway names."""
        for service in SERVICES:
            prefix = service.upper() + "_DB_"
            environ[prefix + "NAME"] = "edtech_{}_{}".format(service, self.tag)
            environ[prefix + "USER"] = "edtech_{}_{}".format(service, self.tag)
            environ[prefix + "PASSWORD"] = "pw_{}_{}".format(service, self.tag)
        environ["AMQP_URI"] = "pyamqp://guest:guest@127.0.0.1:5672/" + self.vhost
        environ.setdefault("AUTH_JWT_SECRET", secrets.token_urlsafe(32))

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

    def create_vhost(self):
        rabbitmqctl("add_vhost", self.vhost)
        rabbitmqctl("set_permissions", "-p", self.vhost, "guest", ".*", ".*", ".*")

    def drop_vhost(self):
        rabbitmqctl("delete_vhost", self.vhost)
