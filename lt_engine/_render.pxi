# Rendering: straight to HTML, and to state for a mount (included by _core.pyx).

# ---------------------------------------------------------------------------------------------
# Render to HTML (plain rendering, macros and block bodies: no state kept)


cdef Py_ssize_t choose(IfDesc d, list S) except -2:
    cdef Py_ssize_t i
    for i in range(len(d.tests)):
        if d.tests[i](S):
            return i
    if len(d.branches) > len(d.tests):
        return len(d.tests)
    return -1


cdef list collect(ForDesc d, list S):
    """The items a loop iterates, after its ``if`` filter."""
    raw = d.iter_fn(S)
    cdef list items
    if type(raw) is list or type(raw) is _TrackedList:
        items = <list>raw  # a TrackedList is a list: keep it, it can tell what changed
    else:
        items = list(raw)
    if d.filter_fn is None:
        return items
    cdef list kept = []
    cdef list frame
    for it in items:
        frame = new_frame(d, it, None)
        S.append(frame)
        try:
            if d.filter_fn(S):
                kept.append(it)
        finally:
            S.pop()
    return kept


cdef inline list new_frame(ForDesc d, object it, object loop):
    cdef list frame = [None] * d.frame_size
    if d.target_reg >= 0:
        frame[d.target_reg] = it
    else:
        d.target_fn(it, frame)
    if d.loop_reg >= 0 and loop is not None:
        frame[d.loop_reg] = loop
    return frame


cdef object make_loop(ForDesc d, list items):
    if d.loop_reg >= 0:
        return d.loop_factory(items)
    return None


cdef void render_html(NodeDesc d, list S, list parts) except *:
    cdef Py_ssize_t si = 0
    cdef Entry e
    cdef list statics = d.statics_list
    cdef list items
    cdef Py_ssize_t i, n, b
    cdef bint empty = True
    parts.append(statics[0])
    for entry in d.program:
        e = <Entry>entry
        if e.kind == K_BIND:
            S[(<BindDesc>e).level][(<BindDesc>e).reg] = (<BindDesc>e).fn(S)
            continue
        if e.kind == K_EFFECT:
            (<EffectDesc>e).fn(S)
            continue
        if e.kind == K_EXPR:
            if type(e) is ComponentDesc:
                parts.append(component_html(<ExprDesc>e, S))
            else:
                parts.append(to_out((<ExprDesc>e).fn(S), (<ExprDesc>e).escape))
        elif e.kind == K_IF:
            b = choose(<IfDesc>e, S)
            if b >= 0:
                render_html((<IfDesc>e).branches[b], S, parts)
        elif e.kind == K_FOR:
            items = collect(<ForDesc>e, S)
            n = len(items)
            empty = n == 0
            loop = make_loop(<ForDesc>e, items)
            for i in range(n):
                if loop is not None:
                    loop.index0 = i
                S.append(new_frame(<ForDesc>e, items[i], loop))
                try:
                    render_html((<ForDesc>e).body, S, parts)
                finally:
                    S.pop()
        elif e.kind == K_ELSE:
            if empty:
                render_html((<ElseDesc>e).body, S, parts)
        si += 1
        parts.append(statics[si])


def render_node_html(NodeDesc d, list S):
    cdef list parts = []
    render_html(d, S, parts)
    return "".join(parts)


# ---------------------------------------------------------------------------------------------
# Mount: render keeping state


cdef NodeState render_state(NodeDesc d, list S, NodeState st):
    if st is None:
        st = NodeState()
    st.desc = d
    cdef list vals = [None] * d.nslots
    cdef Entry e
    cdef Py_ssize_t b
    for entry in d.program:
        e = <Entry>entry
        if e.kind == K_BIND:
            S[(<BindDesc>e).level][(<BindDesc>e).reg] = (<BindDesc>e).fn(S)
        elif e.kind == K_EFFECT:
            (<EffectDesc>e).fn(S)
        elif e.kind == K_EXPR:
            if type(e) is ComponentDesc:
                vals[e.index] = component_state(<ExprDesc>e, S)
            elif (<ExprDesc>e).same_as >= 0:
                vals[e.index] = vals[(<ExprDesc>e).same_as]
            else:
                vals[e.index] = to_out((<ExprDesc>e).fn(S), (<ExprDesc>e).escape)
        elif e.kind == K_IF:
            b = choose(<IfDesc>e, S)
            vals[e.index] = render_state((<IfDesc>e).branches[b], S, None) if b >= 0 else ""
        elif e.kind == K_FOR:
            vals[e.index] = render_range(<ForDesc>e, S)
        else:
            if len((<RangeState>vals[e.index - 1]).items) == 0:
                vals[e.index] = render_state((<ElseDesc>e).body, S, None)
            else:
                vals[e.index] = ""
    st.vals = tuple(vals)
    return st


@cython.boundscheck(False)
@cython.wraparound(False)
cdef RangeState render_range(ForDesc d, list S):
    cdef list items = collect(d, S)
    cdef Py_ssize_t i, n = len(items)
    cdef RangeState rs = StreamState() if type(d) is StreamDesc else RangeState()
    cdef list states = [None] * n
    cdef ItemState st
    cdef list frame
    cdef list flat = [None] * (n * d.nleaves)  # exactly sized: a page keeps it
    loop = make_loop(d, items)
    env = S[0][0].env
    for i in range(n):
        if loop is not None:
            loop.index0 = i
        frame = new_frame(d, items[i], loop)
        S.append(frame)
        try:
            st = ItemState()
            render_state(d.body, S, st)
            store_leaves(d.leaves, items[i], d.target_reg, frame, i, n, env, flat,
                         i * d.nleaves)
        finally:
            S.pop()
        st.pos = i
        states[i] = st
    rs.items = states
    rs.leaves = flat
    if d.key_slot >= 0:
        assign_keys(d, states, None)
    else:
        number_items(rs, states)
    if d.keeps_objs:
        rs.objs = list(items)
    remember_tracked(rs, items)
    if type(d) is StreamDesc:
        mounted_stream(d, <StreamState>rs, S)
    return rs


cdef inline void remember_tracked(RangeState rs, list items):
    if type(items) is _TrackedList:
        rs.tracked = items
        rs.seen = (<object>items)._lt_version
    else:
        rs.tracked = None
