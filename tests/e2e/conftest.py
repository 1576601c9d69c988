"""The gateway as apps reach it: gunicorn on a free port, over HTTP."""

import pytest
import requests

from scripts.platformctl import free_port, wait_gateway


class Gateway:
    def __init__(self, url):
        self.url = url
        self.http = requests.Session()

    def post(self, query, variables=None, token=None, **kwargs):
        headers = {"Authorization": "Bearer " + token} if token else {}
        return self.http.post(self.url + "/graphql", json={"query": query, "variables": variables or {}},
                              headers=headers, timeout=30, **kwargs)

    def gql(self, query, variables=None, token=None):
        """Body of a 200 response."""
        resp = self.post(query, variables, token)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def data(self, query, variables=None, token=None):
        body = self.gql(query, variables, token)
        assert "errors" not in body, body["errors"]
        return body["data"]


def start_gateway(platform, name, **env):
    port = free_port()
    platform.start_gateway(dict(GATEWAY_PORT=str(port), GATEWAY_WORKERS="1", **env), name=name)
    url = "http://127.0.0.1:{}".format(port)
    wait_gateway(url)
    return url


@pytest.fixture(scope="session")
def gateway(platform):
    url = start_gateway(platform, "gateway", GATEWAY_EXPOSE_RPC_STATS="1")
    return Gateway(url)
