"""Query hardening: depth, expanded size, estimated result size and alias
limits as validation rules (the token limit is enforced by the parser, the
body size by the app, the RPCs of one request by api_gateway/rpc.py).

Every measure here costs time linear in the document's size: a fragment's
depth and size are computed once and reused at each spread, so fragments
that each spread the next one twice cost n steps, not 2^n.
"""
from graphql import (FieldNode, FragmentSpreadNode, GraphQLError, InlineFragmentNode, IntValueNode,
                     OperationDefinitionNode, VariableNode, is_object_type)
from graphql.validation import ValidationRule


def paged_fields(schema):
    """{field name: its default page size} for every field that takes
    ``first``: the fields whose results multiply what is below them."""
    paged = {}
    for type_ in schema.type_map.values():
        if is_object_type(type_):
            for name, field in type_.fields.items():
                arg = field.args.get("first")
                if arg is not None:
                    paged[name] = max(paged.get(name, 0), arg.default_value if isinstance(arg.default_value, int)
                                      else 1)
    return paged


def document_limits_rule(max_depth, max_fields, max_cost=None, paged=None, max_page=100):
    """Refuses an operation nested deeper than ``max_depth`` (QUERY_TOO_DEEP),
    with more than ``max_fields`` field selections once its fragments are
    expanded (QUERY_TOO_LARGE), or whose estimated result is more than
    ``max_cost`` values (QUERY_TOO_COSTLY): each field counts once, times the
    page size of every paged field above it (``first``, its default when
    left out, ``max_page`` when it is a variable). Depth alone would let 15
    aliases of a 100-item page through, each costing its own RPCs and
    serialisation."""
    class DocumentLimits(ValidationRule):
        def __init__(self, context):
            super().__init__(context)
            self.measures = None  # made once per document, shared by its operations

        def enter_operation_definition(self, node: OperationDefinitionNode, *_):
            if self.measures is None:
                self.measures = SelectionMeasures(self.context.document, paged or {}, max_page)
            depth, fields, cost = self.measures.of(node.selection_set)
            if depth > max_depth:
                self.report_error(GraphQLError(
                    "query depth {} exceeds the limit of {}".format(depth, max_depth), node,
                    extensions={"code": "QUERY_TOO_DEEP"}))
            if fields > max_fields:
                self.report_error(GraphQLError(
                    "the query expands to more than {} field selections, the limit, once its fragments "
                    "are spread".format(max_fields), node,
                    extensions={"code": "QUERY_TOO_LARGE"}))
            if max_cost is not None and cost > max_cost:
                self.report_error(GraphQLError(
                    "the query may return about {:,} values, more than the limit of {:,}; ask for smaller pages "
                    "(first) or fewer aliases".format(cost, max_cost), node,
                    extensions={"code": "QUERY_TOO_COSTLY"}))
    return DocumentLimits


class SelectionMeasures:
    """(depth, field selections, estimated values) of a selection set,
    fragments expanded.

    Each selection set of the document (fragment bodies included) is
    measured once and remembered, and the walk keeps its own stack, so
    neither deep nesting nor long fragment chains can exhaust Python's
    recursion limit. A fragment cycle (refused by the standard
    NoFragmentCyclesRule, which runs alongside) counts as empty here.
    """

    def __init__(self, document, paged=None, max_page=100):
        self.fragments = {d.name.value: d for d in document.definitions if d.kind == "fragment_definition"}
        self.paged, self.max_page = paged or {}, max_page
        self.memo = {}  # id(selection set) -> (depth, fields, cost); None while being measured

    def of(self, selection_set):
        memo = self.memo
        stack = [(selection_set, False)]
        while stack:
            node, children_done = stack.pop()
            if children_done:
                memo[id(node)] = self._combine(node)
                continue
            if id(node) in memo:
                continue
            memo[id(node)] = None
            stack.append((node, True))
            for child in self._children(node):
                if id(child) not in memo:
                    stack.append((child, False))
        return memo[id(selection_set)]

    def _children(self, selection_set):
        for sel in selection_set.selections:
            child = self._child(sel)
            if child is not None:
                yield child

    def _child(self, sel):
        if isinstance(sel, (FieldNode, InlineFragmentNode)):
            return sel.selection_set
        if isinstance(sel, FragmentSpreadNode) and sel.name.value in self.fragments:
            return self.fragments[sel.name.value].selection_set
        return None

    def _measured(self, child):
        return (self.memo.get(id(child)) or (0, 0, 0)) if child is not None else (0, 0, 0)

    def _page(self, field):
        """How many times a field's selection is returned, as far as the
        document says: ``first`` for a paged field, else once."""
        if field.name.value not in self.paged:
            return 1
        for arg in field.arguments or ():
            if arg.name.value == "first":
                if isinstance(arg.value, IntValueNode):
                    return max(1, int(arg.value.value))
                if isinstance(arg.value, VariableNode):
                    return self.max_page  # its value is not known here; assume the largest allowed
        return self.paged[field.name.value]

    def _combine(self, selection_set):
        deepest, fields, total = 0, 0, 0
        for sel in selection_set.selections:
            depth, count, cost = self._measured(self._child(sel))
            if isinstance(sel, FieldNode):
                fields += 1 + count
                total += 1 + self._page(sel) * cost
                if sel.name.value.startswith("__"):
                    # Introspection costs no RPC, and GraphiQL's own schema query is
                    # 15 levels deep; GATEWAY_INTROSPECTION=false switches it off.
                    # Its fields still count towards the expanded size.
                    depth = 0
                else:
                    depth += 1
            else:
                fields += count
                total += cost
            deepest = max(deepest, depth)
        return deepest, fields, total


def alias_limit_rule(max_aliases):
    class AliasLimit(ValidationRule):
        def __init__(self, context):
            super().__init__(context)
            self.count = 0

        def enter_field(self, node: FieldNode, *_):
            if node.alias is not None:
                self.count += 1
                if self.count == max_aliases + 1:
                    self.report_error(GraphQLError(
                        "more than {} aliases in one request".format(max_aliases), node,
                        extensions={"code": "TOO_MANY_ALIASES"}))
    return AliasLimit
