"""Request checks that graphql-core leaves to ``execute()``, made before it
runs so that the caller's mistakes are answered as such (docs/graphql.md,
"Errors"), not as a 200 with a validation code or an internal error.

Both were found by the schema-driven fuzzing in tests/e2e/test_fuzz_graphql.py.
"""
from graphql import (FragmentDefinitionNode, GraphQLError, OperationDefinitionNode, TypeInfo, TypeInfoVisitor,
                     Visitor, is_non_null_type, visit)
from graphql.pyutils import inspect


def no_operation_message(document, operation_name):
    """Why ``get_operation_ast`` found no operation to run: ``operationName``
    names none of the document's operations, or it is missing and the
    document has several."""
    names = [d.name.value if d.name else "(anonymous)" for d in document.definitions
             if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        return "the document has {} operations ({}): name the one to run in operationName".format(
            len(names), ", ".join(names))
    return "operationName {} names no operation in the document; its operations: {}".format(
        inspect(operation_name), ", ".join(names))


def nulls_where_required(schema, document, operation, values):
    """A GraphQLError, located at the use, for each variable whose value is
    null (sent as null, though it is declared with a default) where it stands
    for something that may not be null: a non-null argument (``user(id:
    $v)`` with ``$v: ID = "…"``), an ``@include(if:)``, a non-null list item
    or input field. Validation allows such a variable because of its default;
    graphql-core would refuse the null only while executing, as an error that
    looks like a bug ("internal error") or, for a directive on a root field,
    as a failed validation with status 200."""
    nulls = {name for name, value in values.items() if value is None}
    if not nulls:
        return []
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    found, reported, spread, pending = [], set(), set(), [operation]

    class Uses(Visitor):
        def __init__(self, type_info):
            super().__init__()
            self.type_info = type_info

        def enter_variable_definition(self, *_):
            return self.SKIP  # the declaration, not a use

        def enter_variable(self, node, *_):
            name, expected = node.name.value, self.type_info.get_input_type()
            if name in nulls and name not in reported and expected is not None and is_non_null_type(expected):
                reported.add(name)
                found.append(GraphQLError("Variable '${}' is null, but it is used where a value of type '{}' is "
                                          "required.".format(name, expected), node))

        def enter_fragment_spread(self, node, *_):
            if node.name.value not in spread and node.name.value in fragments:
                spread.add(node.name.value)
                pending.append(fragments[node.name.value])

    while pending:  # the operation, then each fragment it spreads, each once
        type_info = TypeInfo(schema)
        visit(pending.pop(), TypeInfoVisitor(type_info, Uses(type_info)))
    return found
