"""The outside-resource pattern (services/common/resources.py) with nameko's
own test helpers: the real client comes from config, a fake replaces it."""
from nameko.rpc import rpc
from nameko.testing.services import worker_factory
from nameko.testing.utils import get_extension
from nameko.containers import ServiceContainer

from services.common.resources import OutsideResource


class Greeter:
    def __init__(self, greeting):
        self.greeting, self.closed = greeting, False

    def greet(self, name):
        return "{}, {}".format(self.greeting, name)

    def close(self):
        self.closed = True


class GreeterResource(OutsideResource):
    def make_client(self, config):
        return Greeter(config["GREETING"])


class FakeGreeter:
    def __init__(self):
        self.greeted = []

    def greet(self, name):
        self.greeted.append(name)
        return "hi " + name


class Service:
    name = "greeting"
    greeter = GreeterResource()

    @rpc
    def hello(self, name):
        return self.greeter.greet(name)


def test_the_real_client_is_built_from_config_once_and_closed_on_stop():
    container = ServiceContainer(Service, {"GREETING": "Hello", "AMQP_URI": "memory://"})
    resource = get_extension(container, GreeterResource)
    resource.setup()
    client = resource.get_dependency(None)
    assert client.greet("Ada") == "Hello, Ada" and resource.get_dependency(None) is client
    resource.stop()
    assert client.closed


def test_a_fake_replaces_it_in_unit_tests():
    fake = FakeGreeter()
    service = worker_factory(Service, greeter=fake)
    assert service.hello("Ada") == "hi Ada" and fake.greeted == ["Ada"]
