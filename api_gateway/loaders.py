"""Request-scoped batching.

graphql-core resolves a list's items one by one, so a naive resolver makes
one RPC per item. Here a list resolver tells the loaders which keys its
items will ask for (``expect``); the first item to ``load`` fetches every
expected key in one call, and the rest are served from the loader's cache.
The result is one RPC per owning service per level of the query.
"""


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
    """The loaders of one request, each bound to that request's RPC calls."""

    def __init__(self, rpc, token):
        self.users = Loader(lambda ids: _by_id(rpc.call("identity", "get_users", token, ids), "id"))
        self.tutor_profiles = Loader(
            lambda ids: _by_id(rpc.call("learning", "get_tutor_profiles", ids), "user_id"))
        self.courses_by_tutor = Loader(lambda ids: rpc.call("learning", "courses_for_tutors", ids))
        self.courses = Loader(lambda ids: _by_id(rpc.call("learning", "get_courses", ids), "id"))
        self.enrolled = Loader(lambda ids: rpc.call("learning", "enrolled_courses", token, ids))
        self.lessons_as_student = Loader(lambda ids: rpc.call("learning", "lessons_for_users", token, ids, "student"))
        self.lessons_as_tutor = Loader(lambda ids: rpc.call("learning", "lessons_for_users", token, ids, "tutor"))


def _by_id(items, key):
    return {item[key]: item for item in items if item is not None}
