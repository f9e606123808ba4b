# Components: slots that show another mount's root node (included by _core.pyx; the model is in
# lt_engine/components.py).
#
# ``{{ component(obj) }}`` compiles to a ComponentDesc: its function evaluates ``obj``, and the
# slot holds the root NodeState of obj's own Mount (made on first render, kept on the object).
# The page's state shares that node, so the page's HTML and full tree always show the
# component as it is; the component's own updates change it in place.


cdef class ComponentDesc(ExprDesc):
    """A ``{{ component(obj) }}`` slot: built as an ExprDesc (codegen), holds a node."""
    pass


cdef NodeState component_state(ExprDesc e, list S):
    """The node of the component the slot shows, as it is now (a page mounted anew)."""
    obj = e.fn(S)
    cdef Mount m = <Mount>_component_mount(S[0][0].env, obj)
    m.update(_component_data(obj))
    return m.state


cdef tuple update_component(ExprDesc e, object old, list S):
    """(the slot's node, its change or None): the component's own update when the slot still
    shows the same component, else its whole node."""
    obj = e.fn(S)
    cdef Mount m = <Mount>_component_mount(S[0][0].env, obj)
    change = m.update(_component_data(obj))
    if m.state is old:
        return (old, change or None)
    return (m.state, node_tree(m.state))


cdef str component_html(ExprDesc e, list S):
    """A plain render (macros, blocks rendered to a string): jinja2's rendering of it."""
    return str(_render_component(S[0][0].env, e.fn(S)))


cdef list state_path(NodeState st, NodeState target):
    """Where ``target`` is under ``st``: slot keys and range items, innermost first; or None."""
    cdef Py_ssize_t i
    cdef tuple vals = st.vals
    cdef list p
    for i in range(st.desc.nslots):
        v = vals[i]
        if v is target:
            return [slot_key(i)]
        if type(v) is str:
            continue
        if isinstance(v, NodeState):
            p = state_path(<NodeState>v, target)
            if p is not None:
                p.append(slot_key(i))
                return p
        else:
            for it in (<RangeState>v).items:
                p = state_path(<NodeState>it, target)
                if p is not None:
                    p.append(it)
                    p.append(slot_key(i))
                    return p
    return None


cdef bint path_holds(NodeState root, list path, NodeState target):
    """Whether ``path`` (state_path's, cached) still leads from ``root`` to ``target``: each
    range item where its position says, the last step onto ``target`` itself."""
    cdef Py_ssize_t i = len(path) - 1, p
    cdef NodeState cur = root
    cdef RangeState rs
    cdef ItemState it
    while i >= 0:
        v = cur.vals[int(path[i])]
        i -= 1
        if i < 0:
            return v is target
        if isinstance(path[i], ItemState):
            if not isinstance(v, RangeState):
                return False
            rs = <RangeState>v
            it = <ItemState>path[i]
            p = it.pos
            if p < 0 or p >= len(rs.items) or rs.items[p] is not it:
                return False
            cur = it
            i -= 1
        elif isinstance(v, NodeState):
            cur = <NodeState>v
        else:
            return False
    return False


cdef list find_path(Mount page, Mount component):
    """Where ``page``'s tree holds ``component``'s node: the path cached on the component
    while it still leads there (a component action then costs the depth of the page, not its
    size), else found by a walk over the page's state and cached; None when it is not there."""
    cached = component.shown_at
    if (cached is not None and (<tuple>cached)[0] is page
            and path_holds(page.state, <list>(<tuple>cached)[1], component.state)):
        return <list>(<tuple>cached)[1]
    cdef list path = state_path(page.state, component.state)
    component.shown_at = None if path is None else (page, path)
    return path


cdef object wrap_change(list path, object change):
    """``change`` of a node as an update of the tree ``path`` leads from."""
    for step in path:
        if isinstance(step, ItemState):
            change = [[OP_UPDATE, (<ItemState>step).key, change]]
        else:
            change = {step: change}
    return change
