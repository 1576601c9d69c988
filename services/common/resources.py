"""Outside resources (Stripe, an SMTP server, a model) behind a dependency
provider, in the shape of nameko-examples' storage dependency.

A service's ``dependencies.py`` subclasses ``OutsideResource`` and names how
to build the real client from the service's config; beside it sits a fake
with the same methods. Unit tests hand the fake to ``worker_factory``
(``worker_factory(PaymentService, stripe=FakeStripe())``), and integration
tests run the real client against a real local server, never a mock of our
own infrastructure (docs/architecture.md, "Outside resources").
"""
from nameko.extensions import DependencyProvider


class OutsideResource(DependencyProvider):
    """Builds one client at start-up and lends it to every worker."""

    def __init__(self, client=None):
        self.client = client  # a fake, or a prepared client, given explicitly

    def make_client(self, config):
        """The real client, from the service's nameko config."""
        raise NotImplementedError

    def setup(self):
        if self.client is None:
            self.client = self.make_client(self.container.config)

    def stop(self):
        close = getattr(self.client, "close", None)
        if callable(close):
            close()

    def kill(self):
        self.stop()

    def get_dependency(self, worker_ctx):
        return self.client
