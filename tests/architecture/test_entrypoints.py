"""Every consumer in every service refuses malformed messages, and every
RPC client's requests expire (services/common/consumers.py and rpc.py;
docs/architecture.md, "Malformed messages" and "RPC requests expire").

One entrypoint imported from nameko instead would be worse than a service
with none of ours: it would bring a second ``RpcConsumer`` on the same
``rpc-<service>`` queue, which does not know the other's methods, and half
of the calls would answer ``MethodNotFound``."""
import importlib

import pytest
from nameko import events as nameko_events
from nameko import messaging as nameko_messaging
from nameko import rpc as nameko_rpc
from nameko.containers import ServiceContainer

from services.common.config import SERVICES
from services.common.consumers import QueueConsumer

NAMEKO_CLASSES = {nameko_rpc.Rpc, nameko_rpc.RpcConsumer, nameko_rpc.RpcProxy, nameko_rpc.ReplyListener,
                  nameko_events.EventHandler, nameko_messaging.Consumer, nameko_messaging.QueueConsumer}


def service_class(service):
    module = importlib.import_module("services.{}.service".format(service))
    return getattr(module, "{}Service".format(service.capitalize()))


@pytest.mark.parametrize("service", SERVICES)
def test_every_consumer_is_ours_and_they_share_one_connection(service):
    container = ServiceContainer(service_class(service), {"AMQP_URI": "memory://"})
    nameko_own = sorted("{}.{}".format(type(e).__module__, type(e).__name__)
                        for e in container.extensions if type(e) in NAMEKO_CLASSES)
    assert not nameko_own, "import these from services.common.rpc or services.common.consumers: {}".format(
        nameko_own)
    queue_consumers = [e for e in container.extensions if isinstance(e, nameko_messaging.QueueConsumer)]
    assert len(queue_consumers) == 1 and isinstance(queue_consumers[0], QueueConsumer), queue_consumers


def test_the_check_can_fire():
    class Mixed:
        name = "mixed"

        @nameko_rpc.rpc
        def theirs(self):
            pass

    container = ServiceContainer(Mixed, {"AMQP_URI": "memory://"})
    assert {type(e) for e in container.extensions} & NAMEKO_CLASSES
