"""A bare kombu request/reply server: the baseline nameko's RPC is compared
with in ``scripts/bench``. It answers every message on ``bench-echo`` with
the same body, to the message's ``reply_to``, like an RPC with no framework."""
import sys

from kombu import Connection, Producer, Queue


def main(uri):
    queue = Queue("bench-echo", auto_delete=True)
    with Connection(uri) as conn:
        producer = Producer(conn.channel(), serializer="json")

        def reply(body, message):
            producer.publish(body, routing_key=message.properties["reply_to"],
                             correlation_id=message.properties["correlation_id"])
            message.ack()

        with conn.Consumer(queue, callbacks=[reply], accept=["json"]):
            print("ready", flush=True)
            while True:
                conn.drain_events()


if __name__ == "__main__":
    main(sys.argv[1])
