"""``python -m services.common.nameko_cli run|shell ...``: the nameko command
line with eventlet's import-time deprecation notice filtered out
(docs/architecture.md, "Runtime notes"), so operators see only what matters."""
import sys
import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")


def main():
    from nameko.cli.main import main as nameko_main
    sys.argv[0] = "nameko"
    return nameko_main()


if __name__ == "__main__":
    sys.exit(main())
