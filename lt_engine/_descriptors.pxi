# Descriptors: a compiled template as its generated module builds it (included by _core.pyx).

# ---------------------------------------------------------------------------------------------
# Descriptors (built by generated code, see codegen.py)


cdef class Entry:
    cdef public int kind
    cdef public Py_ssize_t index
    cdef public tuple masks
    cdef public bint volatile


cdef class ExprDesc(Entry):
    cdef public object fn
    cdef public bint escape
    cdef public Py_ssize_t same_as  # an earlier slot of the node with the same code, or -1

    def __init__(self, Py_ssize_t index, fn, tuple masks, bint volatile, bint escape,
                 Py_ssize_t same_as=-1):
        self.kind = K_EXPR
        self.index = index
        self.fn = fn
        self.masks = masks
        self.volatile = volatile
        self.escape = escape
        self.same_as = same_as


cdef class IfDesc(Entry):
    cdef public tuple tests
    cdef public tuple branches

    def __init__(self, Py_ssize_t index, tuple tests, tuple branches, tuple masks,
                 bint volatile):
        self.kind = K_IF
        self.index = index
        self.tests = tests
        self.branches = branches
        self.masks = masks
        self.volatile = volatile


cdef class LeafDesc:
    cdef public Py_ssize_t root
    cdef public tuple steps  # ((kind, key, fast), ...)
    cdef public int loop_attr
    # the first step, unpacked: most leaves are one step from their root (``todo.title``)
    cdef Py_ssize_t nsteps
    cdef int kind0
    cdef object key0
    cdef bint fast0

    def __init__(self, Py_ssize_t root, tuple steps, loop_attr=None):
        self.root = root
        self.steps = tuple(
            (kind, key, isinstance(key, str) and key not in DICT_ATTRS) for kind, key in steps
        )
        self.loop_attr = LOOP_ATTR_CODES[loop_attr] if loop_attr else 0
        self.nsteps = len(steps)
        if self.nsteps:
            self.kind0, self.key0, self.fast0 = self.steps[0]


cdef class ForDesc(Entry):
    cdef public object iter_fn
    cdef public object target_fn
    cdef public Py_ssize_t target_reg
    cdef public object filter_fn
    cdef public Py_ssize_t frame_size
    cdef public Py_ssize_t loop_reg
    cdef public NodeDesc body
    cdef public tuple leaves
    cdef public bint sequential
    cdef public tuple body_outer
    cdef public Py_ssize_t key_slot
    cdef public object key_mask  # leaves (this level) the key slot depends on
    cdef unsigned long long key_mask_c  # the same, as an item mask (see item_mask_fast)
    cdef public tuple key_outer  # outer masks of the key slot
    cdef public Py_ssize_t level
    cdef public object loop_factory
    cdef public tuple key_prefix  # bindings the key slot may read, run before it
    cdef public bint by_identity  # the body reads only the item itself (and loop positions)
    cdef public bint uses_length  # some leaf depends on the loop's length (last, revindex, …)
    cdef public bint keeps_objs  # its RangeState keeps the item objects (see RangeState.objs)
    # The leaves as C arrays for the per-item scan: LEAF_* code, and the dict key or loop attr.
    cdef int* lcode
    cdef PyObject** lkey
    cdef int* lattr
    cdef Py_ssize_t nleaves
    # LEAF_ATTR on objects: the last class seen (a strong reference), and whether that class
    # lets the instance __dict__ answer for the name (no data descriptor of that name)
    cdef PyObject** ltype
    cdef char* lplain
    # every leaf is a loop position or one key/attribute of the item: an item whose dict did
    # not change (RangeState.stamps) needs only its loop positions checked
    cdef bint stampable
    cdef bint has_loop_leaves
    # the class whose instances' attribute leaves were all last read from their __dict__ when a
    # stamp was taken (a strong reference; see unchanged_since)
    cdef PyObject* stamp_type

    def __init__(self, Py_ssize_t index, Py_ssize_t level, iter_fn, target_fn,
                 Py_ssize_t target_reg, filter_fn, Py_ssize_t frame_size, Py_ssize_t loop_reg,
                 NodeDesc body, tuple leaves, bint sequential, tuple masks, tuple body_outer,
                 bint volatile, Py_ssize_t key_slot, loop_factory):
        self.kind = K_FOR
        self.index = index
        self.level = level
        self.iter_fn = iter_fn
        self.target_fn = target_fn
        self.target_reg = target_reg
        self.filter_fn = filter_fn
        self.frame_size = frame_size
        self.loop_reg = loop_reg
        self.body = body
        self.leaves = leaves
        self.sequential = sequential
        self.masks = masks
        self.body_outer = body_outer
        self.volatile = volatile
        self.key_slot = key_slot
        self.loop_factory = loop_factory
        self.key_mask = 0
        self.key_outer = ()
        prefix = []
        for entry in body.program:
            if entry.kind == K_BIND:
                prefix.append(entry)
            elif entry.kind <= K_ELSE and entry.index == key_slot:
                break
        self.key_prefix = tuple(prefix)
        self.nleaves = len(leaves)
        self.uses_length = any((<LeafDesc>leaf).loop_attr in (3, 4, 6, 7) for leaf in leaves)
        self.lcode = <int*>PyMem_Malloc(max(self.nleaves, 1) * sizeof(int))
        self.lattr = <int*>PyMem_Malloc(max(self.nleaves, 1) * sizeof(int))
        self.lkey = <PyObject**>PyMem_Malloc(max(self.nleaves, 1) * sizeof(PyObject*))
        self.ltype = <PyObject**>PyMem_Malloc(max(self.nleaves, 1) * sizeof(PyObject*))
        self.lplain = <char*>PyMem_Malloc(max(self.nleaves, 1) * sizeof(char))
        if not self.lcode or not self.lattr or not self.lkey or not self.ltype or not self.lplain:
            raise MemoryError()
        cdef LeafDesc leaf
        cdef Py_ssize_t k
        for k in range(self.nleaves):
            leaf = <LeafDesc>leaves[k]
            self.lattr[k] = leaf.loop_attr
            self.lkey[k] = NULL
            self.ltype[k] = NULL
            self.lplain[k] = 0
            if leaf.loop_attr:
                self.lcode[k] = LEAF_LOOP
            elif leaf.root == target_reg and leaf.nsteps == 0:
                self.lcode[k] = LEAF_ITEM
            elif leaf.root == target_reg and leaf.nsteps == 1 and leaf.fast0:
                # item.name reads an attribute of an object (jinja2: getattr first); item["k"]
                # (getitem first) takes the fast path only on dicts
                self.lcode[k] = LEAF_ATTR if leaf.kind0 == 0 else LEAF_DICT_KEY
                self.lkey[k] = <PyObject*>leaf.key0  # kept alive by self.leaves
            else:
                self.lcode[k] = LEAF_OTHER
        self.stampable = target_reg >= 0 and any(
            self.lcode[k] == LEAF_ATTR or self.lcode[k] == LEAF_DICT_KEY
            for k in range(self.nleaves)) and all(
            self.lcode[k] == LEAF_ATTR or self.lcode[k] == LEAF_DICT_KEY
            or self.lcode[k] == LEAF_LOOP for k in range(self.nleaves))
        self.has_loop_leaves = any(self.lcode[k] == LEAF_LOOP for k in range(self.nleaves))
        self.stamp_type = NULL
        self.by_identity = (
            target_reg >= 0 and filter_fn is None and not sequential and bool(leaves)
            and all((<LeafDesc>leaf).loop_attr or ((<LeafDesc>leaf).root == target_reg
                                                   and (<LeafDesc>leaf).nsteps == 0)
                    for leaf in leaves)
        )
        self.keeps_objs = self.by_identity or key_slot < 0
        if key_slot >= 0:
            key_desc = body.slots[key_slot]
            for level_, mask in key_desc.masks:
                if level_ == level:
                    self.key_mask = mask
            self.key_mask_c = (self.key_mask & ((1 << 63) - 1)) | (
                HIGH_BIT if self.key_mask >> 63 else 0)
            self.key_outer = tuple((lv, m) for lv, m in key_desc.masks if lv != level)


    def __dealloc__(self):
        cdef Py_ssize_t k
        if self.ltype:
            for k in range(self.nleaves):
                Py_XDECREF(self.ltype[k])
        Py_XDECREF(self.stamp_type)
        PyMem_Free(self.lcode)
        PyMem_Free(self.lattr)
        PyMem_Free(self.lkey)
        PyMem_Free(self.ltype)
        PyMem_Free(self.lplain)


cdef class ElseDesc(Entry):
    cdef public NodeDesc body

    def __init__(self, Py_ssize_t index, NodeDesc body):
        self.kind = K_ELSE
        self.index = index
        self.body = body
        self.masks = body.masks
        self.volatile = body.volatile


cdef class BindDesc(Entry):
    cdef public Py_ssize_t level
    cdef public Py_ssize_t reg
    cdef public object fn

    def __init__(self, Py_ssize_t level, Py_ssize_t reg, fn):
        self.kind = K_BIND
        self.level = level
        self.reg = reg
        self.fn = fn


cdef class EffectDesc(Entry):
    cdef public object fn

    def __init__(self, fn):
        self.kind = K_EFFECT
        self.fn = fn


cdef class NodeDesc:
    cdef public tuple statics
    cdef public list statics_list
    cdef public tuple program
    cdef public tuple slots
    cdef public Py_ssize_t nslots
    cdef public tuple masks  # what anything inside reads (for skipping the whole node)
    cdef public bint volatile
    cdef public object id

    def __init__(self, tuple statics, tuple program, tuple masks, bint volatile, node_id=0):
        self.statics = statics
        self.statics_list = list(statics)
        self.program = program
        self.slots = tuple(e for e in program if e.kind <= K_ELSE)
        self.nslots = len(self.slots)
        self.masks = masks
        self.volatile = volatile
        self.id = node_id


cdef class Box:
    """Register 0 of the top frame: the page data, and a jinja2 Context made on first use."""
    cdef public object data, env, rt, _context

    def __init__(self, rt, data):
        self.rt = rt
        self.env = rt.env
        self.data = data
        self._context = None

    def context(self):
        if self._context is None:
            self._context = _new_context(
                self.env, self.rt.name, {}, dict(self.data), False, self.env.globals
            )
        return self._context


cdef class TemplateDesc:
    cdef public NodeDesc root
    cdef public tuple top_names  # ((register, name), ...) of the top frame
    cdef public Py_ssize_t top_frame_size
    cdef public tuple leaves
    cdef public tuple leaf_names  # top-level name of each top leaf (for `changed`)
    cdef public object runtime
    cdef public str name

    def __init__(self, NodeDesc root, tuple top_names, Py_ssize_t top_frame_size, tuple leaves,
                 runtime, str name):
        self.root = root
        self.top_names = top_names
        self.top_frame_size = top_frame_size
        self.leaves = leaves
        self.runtime = runtime
        self.name = name
        names = dict(top_names)
        self.leaf_names = tuple(names[(<LeafDesc>leaf).root] for leaf in leaves)

    cpdef list top_frame(self, data):
        """Frame 0: the runtime box (data, lazy jinja2 context), then each top-level name."""
        cdef list frame = [None] * self.top_frame_size
        cdef Box box = Box.__new__(Box)  # built here: a Python-level call costs more than it
        rt = self.runtime
        box.rt = rt
        box.env = rt.env
        box.data = data
        frame[0] = box
        cdef PyObject* found
        cdef bint plain = type(data) is dict
        for reg, name in self.top_names:
            found = dict_lookup(<PyObject*>data, <PyObject*>name) if plain else NULL
            # a miss (or a mapping that is no plain dict) takes the runtime's full lookup
            frame[reg] = <object>found if found != NULL else rt.resolve(data, name)
        return frame

    def render(self, data):
        cdef list S = [self.top_frame(data)]
        cdef list parts = []
        render_html(self.root, S, parts)
        return "".join(parts)

    def mount(self, data):
        return Mount(self, data)
