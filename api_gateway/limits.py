"""Query hardening: depth and alias limits as validation rules (the token
limit is enforced by the parser, the body size by the app)."""
from graphql import FieldNode, FragmentSpreadNode, GraphQLError, InlineFragmentNode, OperationDefinitionNode
from graphql.validation import ValidationRule


def depth_limit_rule(max_depth):
    class DepthLimit(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_):
            fragments = {f.name.value: f for f in self.context.document.definitions
                         if f.kind == "fragment_definition"}
            depth = _depth(node.selection_set, fragments, 0, set())
            if depth > max_depth:
                self.report_error(GraphQLError(
                    "query depth {} exceeds the limit of {}".format(depth, max_depth), node,
                    extensions={"code": "QUERY_TOO_DEEP"}))
    return DepthLimit


def _depth(selection_set, fragments, depth, seen):
    if selection_set is None:
        return depth
    deepest = depth
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode) and sel.name.value.startswith("__"):
            # Introspection costs no RPC, and GraphiQL's own schema query is
            # 15 levels deep; GATEWAY_INTROSPECTION=false switches it off.
            deeper = depth
        elif isinstance(sel, FieldNode):
            deeper = _depth(sel.selection_set, fragments, depth + 1, seen) if sel.selection_set else depth + 1
        elif isinstance(sel, InlineFragmentNode):
            deeper = _depth(sel.selection_set, fragments, depth, seen)
        elif isinstance(sel, FragmentSpreadNode) and sel.name.value in fragments and sel.name.value not in seen:
            deeper = _depth(fragments[sel.name.value].selection_set, fragments, depth, seen | {sel.name.value})
        else:
            deeper = depth
        deepest = max(deepest, deeper)
    return deepest


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
