# Range item keys, and the wire trees and HTML built from state (included by _core.pyx).

# ---------------------------------------------------------------------------------------------
# Keys


cdef unsigned long long fnv_str(unsigned long long h, str s):
    cdef Py_UCS4 ch
    for ch in s:
        h = (h ^ <unsigned long long>ch) * 1099511628211ULL
    return h


cdef unsigned long long fnv_vals(unsigned long long h, tuple vals, Py_ssize_t count):
    cdef Py_ssize_t i
    for i in range(count):
        v = vals[i]
        h = (h ^ 31ULL) * 1099511628211ULL
        if type(v) is str:
            h = fnv_str(h, <str>v)
        elif isinstance(v, NodeState):
            h = (h ^ <unsigned long long>hash((<NodeState>v).desc.id)) * 1099511628211ULL
            h = fnv_vals(h, (<NodeState>v).vals, (<NodeState>v).desc.nslots)
        elif isinstance(v, RangeState):
            for it in (<RangeState>v).items:
                h = fnv_str(h, str((<ItemState>it).key))
    return h


cdef str content_key(ItemState st):
    cdef unsigned long long h = fnv_vals(14695981039346656037ULL, st.vals, st.desc.nslots)
    return format(h & 0xFFFFFFFFFF, "x")


cdef inline object natural_key(ForDesc d, ItemState st):
    """The key slot's value; a hash of the item's content when that is empty."""
    cdef object k = st.vals[d.key_slot]
    if k:
        return k
    return content_key(st)


cdef void assign_keys(ForDesc d, list states, dict taken) except *:
    """Give each item of a range with a key attribute a unique string key; duplicates get a
    ``#n`` suffix (sent as ``_k``).  Items of other ranges are numbered (``number_items``)."""
    cdef dict seen = {} if taken is None else taken
    cdef ItemState st
    cdef object k, base
    cdef Py_ssize_t n
    for obj in states:
        st = <ItemState>obj
        base = natural_key(d, st)
        k = base
        n = 1
        while k in seen:
            n += 1
            k = f"{base}#{n}"
        seen[k] = st
        st.key = k
        st.explicit = k != st.vals[d.key_slot]


cdef void number_items(RangeState rs, list states) except *:
    """Keys for items of a range with no key attribute: the range's next numbers.  An item keeps
    its key for as long as it lives, whatever changes in it (see _unkeyed.pxi)."""
    cdef ItemState st
    for obj in states:
        st = <ItemState>obj
        st.key = slot_key(rs.next_key)
        st.explicit = True
        rs.next_key += 1


cdef void key_new_items(ForDesc d, RangeState rs, list fresh) except *:
    """Keys for items rendered anew by an update."""
    if d.key_slot < 0:
        number_items(rs, fresh)
        return
    if rs.by_key is None:
        rs.by_key = {(<ItemState>x).key: x for x in rs.items}
    assign_keys(d, fresh, rs.by_key)


# ---------------------------------------------------------------------------------------------
# Wire trees


cdef inline bint looks_like_expr(str v):
    """LiveTemplate's JS client takes a slot string ``{{…}}`` for a template expression and
    renders nothing: such text is sent as a static-only node, which every client renders as
    it is (docs/protocol.md)."""
    return v.startswith("{{") and v.endswith("}}")


cdef inline object wire_str(str v):
    if looks_like_expr(v):
        return {STATICS: [v]}
    return v


cdef dict node_tree(NodeState st):
    cdef dict out = {STATICS: st.desc.statics_list}
    cdef Py_ssize_t i
    cdef tuple vals = st.vals
    for i in range(st.desc.nslots):
        out[slot_key(i)] = val_tree(vals[i], st.desc.slots[i])
    return out


cdef object val_tree(object v, Entry e):
    if type(v) is str:
        return wire_str(<str>v)
    if isinstance(v, NodeState):
        return node_tree(<NodeState>v)
    return range_tree(<RangeState>v, <ForDesc>e)


cdef dict item_tree(ItemState st):
    cdef dict out = {}
    cdef Py_ssize_t i
    cdef tuple vals = st.vals
    cdef bint wrapped = False
    for i in range(st.desc.nslots):
        v = vals[i]
        if type(v) is str and looks_like_expr(<str>v):
            wrapped = True  # if it is the key slot, the key is no longer a string there
        out[slot_key(i)] = val_tree(v, st.desc.slots[i])
    if st.explicit or wrapped:
        out[KEY] = st.key
    return out


cdef dict range_tree(RangeState rs, ForDesc d):
    cdef dict out = {STATICS: d.body.statics_list, ITEMS: [item_tree(<ItemState>it) for it in rs.items]}
    if d.key_slot >= 0:
        out[META] = {ID_KEY: slot_key(d.key_slot)}
        if type(d) is StreamDesc:
            out[META][STREAM] = (<StreamState>rs).limit
    return out


cdef void state_html(NodeState st, list parts) except *:
    cdef list statics = st.desc.statics_list
    cdef tuple vals = st.vals
    cdef Py_ssize_t i
    parts.append(statics[0])
    for i in range(st.desc.nslots):
        v = vals[i]
        if type(v) is str:
            parts.append(v)
        elif isinstance(v, NodeState):
            state_html(<NodeState>v, parts)
        else:
            for it in (<RangeState>v).items:
                state_html(<NodeState>it, parts)
        parts.append(statics[i + 1])
