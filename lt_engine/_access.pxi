# Attribute and item access for generated code (included by _core.pyx).

# ---------------------------------------------------------------------------------------------
# Attribute and item access for generated code: jinja2's semantics, with a fast path for the
# plain dicts and lists that page data is usually made of.


def make_accessors(env):
    """(ga, gad, gi) for ``env``: ``x.name``, ``x.name`` where name is no dict attribute, ``x[k]``."""
    slow_getattr = env.getattr
    slow_getitem = env.getitem
    undefined = env.undefined
    if getattr(env, "sandboxed", False):
        return slow_getattr, slow_getattr, slow_getitem

    cdef bint attrs = fast_attrs(env)

    def gad(obj, name):
        cdef PyObject* found
        if plain_dict(obj):
            found = PyDict_GetItem(obj, name)
            if found is not NULL:
                return <object>found
            return undefined(obj=obj, name=name)
        if attrs:
            value = obj_attr(obj, name)
            if value is not _NOATTR:
                return value
        return slow_getattr(obj, name)

    def gi(obj, key):
        cdef PyObject* found
        if plain_dict(obj):
            found = PyDict_GetItem(obj, key)
            if found is not NULL:
                return <object>found
        elif (type(obj) is list or type(obj) is _TrackedList) and type(key) is int:
            try:
                return (<list>obj)[key]
            except IndexError:
                pass
        return slow_getitem(obj, key)

    return slow_getattr, gad, gi
