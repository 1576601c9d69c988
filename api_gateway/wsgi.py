"""WSGI entry point: ``gunicorn -k api_gateway.server.JsonErrorWorker api_gateway.wsgi:app``.

gunicorn's eventlet worker monkey-patches before this module is imported,
so the pooled RPC clients cooperate like nameko's own workers."""
import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

from api_gateway.app import create_app  # noqa: E402

app = create_app()
