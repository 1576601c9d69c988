"""``python -m services.common.nameko_cli run|shell ...``: the nameko command
line with eventlet's import-time deprecation notice filtered out
(docs/architecture.md, "Runtime notes"), so operators see only what matters.

It also gives the configs' ``AMQP_SSL: ${AMQP_SSL:null}`` its value: the
TLS options the config factory makes for an ``amqps://`` ``AMQP_URI``
(``services.common.config.amqp_ssl``), so a service's nameko consumers and
publishers, its relay and its health check all connect alike
(docs/operations.md, "TLS to the broker and the databases")."""
import json
import os
import sys
import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")


def tls_environment(environ=os.environ):
    """Set ``AMQP_SSL`` (JSON, which nameko's config loader reads as YAML)
    from the factory, unless it is set already."""
    from services.common.config import amqp_ssl
    if not environ.get("AMQP_SSL"):
        options = amqp_ssl(environ=environ)
        if options is not None:
            environ["AMQP_SSL"] = json.dumps(options)


def mask_shell_banner():
    """nameko shell prints its AMQP_URI, password and all (nameko/cli/shell.py)."""
    import nameko.cli.shell
    from services.common.config import mask_uri
    runner = nameko.cli.shell.ShellRunner
    if getattr(runner, "masked", False):
        return

    class ShellRunner(runner):
        masked = True

        def __init__(self, banner, local):
            head, sep, uri = banner.rpartition("Broker: ")
            if sep:
                uri, _, source = uri.partition(" (from ")
                banner = head + sep + mask_uri(uri) + (" (from " + source if source else "")
            super().__init__(banner, local)
    nameko.cli.shell.ShellRunner = ShellRunner


def main():
    # Patched before anything imports kombu: adapt_nameko below imports it,
    # and a module that binds time.sleep unpatched (kombu's retry loop)
    # would freeze the whole service while it waits to reconnect to the
    # broker (tests/integration/test_broker_outage.py). nameko run patches
    # again later, which changes nothing.
    import eventlet
    eventlet.monkey_patch()
    from nameko.cli.main import main as nameko_main
    from services.common.broker import adapt_nameko
    tls_environment()
    # Queues, exchanges and reply keys as the broker's permission table
    # expects them (services/common/broker.py); the shell's banner with
    # every password of AMQP_URI hidden.
    adapt_nameko()
    mask_shell_banner()
    sys.argv[0] = "nameko"
    return nameko_main()


if __name__ == "__main__":
    sys.exit(main())
