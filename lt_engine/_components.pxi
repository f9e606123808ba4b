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


cdef object wrap_change(list path, object change):
    """``change`` of a node as an update of the tree ``path`` leads from."""
    for step in path:
        if isinstance(step, ItemState):
            change = [[OP_UPDATE, (<ItemState>step).key, change]]
        else:
            change = {step: change}
    return change
