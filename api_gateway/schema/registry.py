"""Where each domain module of the graph registers its parts.

A module under ``api_gateway/schema/`` marks its loaders' batch functions,
its Query and Mutation mixins and its ``User`` fields with the decorators
below; ``api_gateway/schema/__init__.py`` imports every module of the package
(``discover``) and composes what they registered, so adding a service's part
of the graph is adding one module, with no central list to edit.
"""
import importlib
import pkgutil

LOADERS = {}       # loader name -> batch(rpc, token, keys) -> {key: value}
QUERIES = []       # Query mixins
MUTATIONS = []     # Mutation mixins
USER_FIELDS = []   # mixins of fields on the one User type


def loader(batch):
    """A batch function, served to resolvers as ``info.context.loaders.<its name>``."""
    if batch.__name__ in LOADERS:  # a second one would silently replace the first
        raise ValueError("two loaders are named " + batch.__name__)
    LOADERS[batch.__name__] = batch
    return batch


def query(part):
    QUERIES.append(part)
    return part


def mutation(part):
    MUTATIONS.append(part)
    return part


def user_fields(part):
    USER_FIELDS.append(part)
    return part


def discover(package_name, package_path):
    """Import each module of the package, so each registers its parts.
    pkgutil lists them sorted by name, so the composed schema is stable."""
    for module in pkgutil.iter_modules(package_path):
        importlib.import_module("{}.{}".format(package_name, module.name))


def user_type():
    """The composed ``User``, for fields that return one. Pass the function,
    not its result: graphene calls it when the schema is built, after every
    module has registered its fields."""
    from api_gateway.schema import User
    return User
