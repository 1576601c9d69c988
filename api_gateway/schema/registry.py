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
EXTENSIONS = []    # (type, mixin): fields a module adds to a type another module owns


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


def extends(target):
    """Fields a module adds to a type another module owns (GraphQL
    federation's ``extend type``), as ``learning`` adds its fields to
    ``User``: ``@registry.extends(Lesson)`` on a mixin of fields and their
    ``resolve_<field>`` methods. The mixin may also have
    ``expect(info, items)``, which the owner's list resolvers call
    (``expect_extended``) so that the added fields, too, cost one RPC for
    the whole list. ``apply_extensions`` adds the fields when the schema is
    composed."""
    def mark(part):
        EXTENSIONS.append((target, part))
        return part
    return mark


def apply_extensions(extensions=None):
    """Add each extension's fields (by default, every module's) to its type."""
    from graphene import Field
    from graphene.types.utils import yank_fields_from_attrs
    for target, part in EXTENSIONS if extensions is None else extensions:
        for name, field in yank_fields_from_attrs(part.__dict__, _as=Field).items():
            if name in target._meta.fields:  # one type, one owner per field
                raise ValueError("{}.{} is defined twice".format(target.__name__, name))
            target._meta.fields[name] = field
            resolver = part.__dict__.get("resolve_" + name)
            if resolver is not None:
                setattr(target, "resolve_" + name, resolver)


def expect_extended(target, info, items):
    """A list of ``target`` is coming: let each module that extends it queue
    the keys its fields will load (see ``extends``)."""
    for extended, part in EXTENSIONS:
        if extended is target and hasattr(part, "expect"):
            part.expect(info, items)
    return items


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
