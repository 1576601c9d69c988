"""Query hardening: depth, expanded size and alias limits as validation rules
(the token limit is enforced by the parser, the body size by the app, the
RPCs of one request by api_gateway/rpc.py).

Every measure here costs time linear in the document's size: a fragment's
depth and size are computed once and reused at each spread, so fragments
that each spread the next one twice cost n steps, not 2^n.
"""
from graphql import FieldNode, FragmentSpreadNode, GraphQLError, InlineFragmentNode, OperationDefinitionNode
from graphql.validation import ValidationRule


def document_limits_rule(max_depth, max_fields):
    """Refuses an operation nested deeper than ``max_depth`` (QUERY_TOO_DEEP)
    or with more than ``max_fields`` field selections once its fragments are
    expanded (QUERY_TOO_LARGE)."""
    class DocumentLimits(ValidationRule):
        def __init__(self, context):
            super().__init__(context)
            self.measures = None  # made once per document, shared by its operations

        def enter_operation_definition(self, node: OperationDefinitionNode, *_):
            if self.measures is None:
                self.measures = SelectionMeasures(self.context.document)
            depth, fields = self.measures.of(node.selection_set)
            if depth > max_depth:
                self.report_error(GraphQLError(
                    "query depth {} exceeds the limit of {}".format(depth, max_depth), node,
                    extensions={"code": "QUERY_TOO_DEEP"}))
            if fields > max_fields:
                self.report_error(GraphQLError(
                    "the query expands to more than {} field selections, the limit, once its fragments "
                    "are spread".format(max_fields), node,
                    extensions={"code": "QUERY_TOO_LARGE"}))
    return DocumentLimits


class SelectionMeasures:
    """(depth, field selections) of a selection set, fragments expanded.

    Each selection set of the document (fragment bodies included) is
    measured once and remembered, and the walk keeps its own stack, so
    neither deep nesting nor long fragment chains can exhaust Python's
    recursion limit. A fragment cycle (refused by the standard
    NoFragmentCyclesRule, which runs alongside) counts as empty here.
    """

    def __init__(self, document):
        self.fragments = {d.name.value: d for d in document.definitions if d.kind == "fragment_definition"}
        self.memo = {}  # id(selection set) -> (depth, fields); None while being measured

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
        return (self.memo.get(id(child)) or (0, 0)) if child is not None else (0, 0)

    def _combine(self, selection_set):
        deepest, fields = 0, 0
        for sel in selection_set.selections:
            depth, count = self._measured(self._child(sel))
            if isinstance(sel, FieldNode):
                fields += 1 + count
                if sel.name.value.startswith("__"):
                    # Introspection costs no RPC, and GraphiQL's own schema query is
                    # 15 levels deep; GATEWAY_INTROSPECTION=false switches it off.
                    # Its fields still count towards the expanded size.
                    depth = 0
                else:
                    depth += 1
            else:
                fields += count
            deepest = max(deepest, depth)
        return deepest, fields


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
