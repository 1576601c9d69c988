"""Request-scoped batching.

graphql-core resolves a list's items one by one, so a naive resolver makes
one RPC per item. Here a list resolver tells the loaders which keys its
items will ask for (``expect``); the first item to ``load`` fetches every
expected key in one call, and the rest are served from the loader's cache.
The result is one RPC per owning service per level of the query.
"""
import functools


class Loader:
    def __init__(self, batch):
        self.batch = batch          # keys -> {key: value}
        self.cache = {}
        self.pending = []

    def expect(self, keys):
        for key in keys:
            if key not in self.cache and key not in self.pending:
                self.pending.append(key)

    def load(self, key):
        if key not in self.cache:
            self.expect([key])
            keys, self.pending = self.pending, []
            found = self.batch(keys)
            for k in keys:
                self.cache[k] = found.get(k)
        return self.cache[key]


class Loaders:
    """The loaders of one request: one per batch function the schema modules
    registered (api_gateway/schema/registry.py), each bound to that request's
    RPC calls and token."""

    def __init__(self, rpc, token, batches):
        for name, batch in batches.items():
            setattr(self, name, Loader(functools.partial(batch, rpc, token)))


def by_key(items, key):
    """A batch RPC's list as the {key: item} a loader wants; None items
    (things that do not exist) are left out, so they load as None."""
    return {item[key]: item for item in items if item is not None}
