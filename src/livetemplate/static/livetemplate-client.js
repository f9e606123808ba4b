/*
 * livetemplate-client.js — makes LiveTemplate pages live. No dependencies, no build step.
 *
 * Data flows one way: WebSocket message -> merge into the kept slot tree (exactly as
 * lt_engine.apply_update, docs/protocol.md) -> patch the DOM (keyed rows directly, the rest
 * through a small morph). Usage, options, events and bindings: docs/client.md.
 */
(() => {
  'use strict';

  // --- Wire format: the key names of lt_engine/wire.py -------------------------------------
  const STATICS = 's', ITEMS = 'd', META = 'm', ID_KEY = 'idKey', KEY = '_k', STREAM = 'stream';

  class ProtocolError extends Error {
    get name() { return 'ProtocolError'; }
  }

  const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
  const isRange = (v) => isObject(v) && ITEMS in v;
  const refill = (list, values) => { list.length = 0; for (const v of values) list.push(v); };

  function itemKey(rng, item) {
    if (KEY in item) return item[KEY];
    const meta = rng[META];
    if (!meta || !(ID_KEY in meta)) {
      throw new ProtocolError("range item without a key ('_k') in a range without 'm.idKey'");
    }
    return item[meta[ID_KEY]];
  }

  /** Merge `update` into `tree` (mutating it) and return it: lt_engine.apply_update. */
  function applyUpdate(tree, update) {
    for (const [slot, change] of Object.entries(update)) {
      if (slot !== STATICS) tree[slot] = applyChange(tree[slot], change);
    }
    return tree;
  }

  function applyChange(current, change) {
    if (typeof change === 'string') return change;
    if (Array.isArray(change)) {
      if (!isRange(current)) throw new ProtocolError('range ops sent for a slot that holds no range');
      applyOps(current, change);
      return current;
    }
    if (isObject(change)) {
      if (STATICS in change) return change; // a whole new node or range
      if (!isObject(current)) {
        throw new ProtocolError('a partial node change sent for a slot that holds no node');
      }
      return applyUpdate(current, change);
    }
    throw new ProtocolError(`unexpected change of type ${change === null ? 'null' : typeof change}`);
  }

  function findItem(rng, items, key) {
    const i = items.findIndex((it) => itemKey(rng, it) === key);
    if (i < 0) throw new ProtocolError(`no range item with key ${JSON.stringify(key)}`);
    return i;
  }

  // A stream's limit (0: none), or undefined for a range that is no stream (lt_engine.streams).
  const streamLimit = (rng) => rng[META] && rng[META][STREAM];

  /** Inserted items whose key the range has replace that item in place: the rest, to insert. */
  function upsert(rng, items, add) {
    const at = new Map(items.map((it, i) => [itemKey(rng, it), i])), fresh = [];
    for (const it of add) {  // a key twice in `add`: the later one wins, in the earlier's place
      const k = itemKey(rng, it), i = at.get(k);
      if (i === undefined) at.set(k, -fresh.push(it));  // -(its index in fresh + 1)
      else if (i >= 0) items[i] = it;
      else fresh[-1 - i] = it;
    }
    return fresh;
  }

  function applyOps(rng, ops) {
    const items = rng[ITEMS], limit = streamLimit(rng);
    for (const op of ops) {
      const kind = op[0];
      if (kind === 'r') {
        refill(items, items.filter((it) => itemKey(rng, it) !== op[1]));
      } else if (kind === 'u') {
        // a stream's item the client no longer has: nothing to update
        if (limit == null || items.some((it) => itemKey(rng, it) === op[1])) {
          applyUpdate(items[findItem(rng, items, op[1])], op[2]);
        }
      } else if (kind === 'a' || kind === 'p') {
        if (op.length > 2 && op[2] != null) rng[STATICS] = op[2];
        const fresh = upsert(rng, items, op[1]);
        refill(items, kind === 'a' ? items.concat(fresh) : fresh.concat(items));
        if (limit && items.length > limit) {
          if (kind === 'a') items.splice(0, items.length - limit); else items.length = limit;
        }
      } else if (kind === 'i') {
        items.splice(findItem(rng, items, op[1]) + 1, 0, op[2]);
      } else if (kind === 'o') {
        const byKey = new Map(items.map((it) => [itemKey(rng, it), it]));
        const keys = op[1];
        const same = new Set(keys).size === byKey.size && keys.every((k) => byKey.has(k));
        if (!same || keys.length !== items.length) {
          throw new ProtocolError('reorder must list every remaining key exactly once');
        }
        refill(items, keys.map((k) => byKey.get(k)));
      } else {
        throw new ProtocolError(`unknown range op ${JSON.stringify(kind)}`);
      }
    }
  }

  /** A full tree (a reconnect) shows only what a stream holds now: keep the items the client
   *  has in each stream range still there, with the new ones inserted (docs/protocol.md). */
  function keepStreams(old, tree) {
    for (const [slot, v] of Object.entries(tree)) {
      const o = old[slot];
      if (isRange(v) && isRange(o)) {
        if (streamLimit(v) != null && streamLimit(o) != null) {
          const items = o[ITEMS];
          applyOps(Object.assign({}, v, { [ITEMS]: items }), [['a', v[ITEMS]]]);
          v[ITEMS] = items;
        }
      } else if (isObject(v) && isObject(o) && slot !== STATICS) {
        keepStreams(o, v);
      }
    }
  }

  /** Join a tree (node or range) into HTML: lt_engine.to_html. */
  function toHtml(tree) {
    const parts = [];
    join(tree, parts);
    return parts.join('');
  }

  function join(node, parts) {
    if (typeof node === 'string') return void parts.push(node);
    if (!isObject(node)) throw new ProtocolError('a slot holds neither a string nor a node');
    if (ITEMS in node) {
      for (const item of node[ITEMS]) joinValues(node[STATICS], item, parts);
    } else {
      joinValues(node[STATICS], node, parts);
    }
  }

  function joinValues(statics, values, parts) {
    parts.push(statics[0]);
    for (let i = 1; i < statics.length; i++) {
      join(values[i - 1], parts);
      parts.push(statics[i]);
    }
  }

  // --- DOM morph: make `from` look like `to`, keeping the identity of unchanged nodes --------
  const KEY_ATTRS = ['data-key', 'data-lvt-key', 'id', 'key'];

  function keyOf(node) {
    if (node.nodeType !== 1) return null;
    for (const a of KEY_ATTRS) {
      const v = node.getAttribute(a);
      if (v) return `${node.nodeName}:${v}`;
    }
    return null;
  }

  const sameKind = (a, b) => a.nodeType === b.nodeType && a.nodeName === b.nodeName;
  // Inputs whose .value is their own ("value mode"); on the others (checkbox, radio, buttons,
  // hidden, file, image) .value mirrors the value attribute, and writing it would set one.
  const ownsValue = (el) =>
    el.tagName === 'INPUT' && !/^(checkbox|radio|button|submit|reset|file|image|hidden)$/i.test(el.type);
  const isTextField = (el) => el.tagName === 'TEXTAREA' || ownsValue(el);

  // What client-side commands (and the client itself: loading, connection state) did to an
  // element: classes on/off, attributes set/removed (null), display, a swapped label. Re-applied
  // onto the server's version of the element before each morph, so it survives patches.
  const sticky = new WeakMap();
  function stick(el) {
    let s = sticky.get(el);
    if (!s) sticky.set(el, (s = { c: {}, a: {} }));
    return s;
  }
  /** Class `cls` on or off; `weak`: turning it off forgets it (the server's class shows again). */
  function setClass(el, cls, on, weak) {
    const s = stick(el);
    if (weak && !on) delete s.c[cls];
    else s.c[cls] = on;
    el.classList.toggle(cls, on);
  }
  function setAttr(el, name, value) {
    stick(el).a[name] = value;
    if (value === null) el.removeAttribute(name);
    else el.setAttribute(name, value);
  }
  function keepSticky(el, to) {
    const s = sticky.get(el);
    if (!s) return;
    for (const c in s.c) to.classList.toggle(c, s.c[c]);
    for (const a in s.a) s.a[a] === null ? to.removeAttribute(a) : to.setAttribute(a, s.a[a]);
    if (s.d !== undefined) to.style.display = s.d;
    if (s.t != null) {
      const p = to.tagName === 'INPUT' ? 'value' : 'textContent';
      s.o = to[p]; // the server's label, shown again when the action settles
      to[p] = s.t;
    }
  }

  /** Morph `from`'s children (or `from` itself, with `self`) into `to`'s. An element with an id
   * is matched across the whole subtree, so one that moved to another parent is moved, not
   * made anew; the focused element keeps focus, caret and selection. */
  function patch(from, to, self) {
    const active = document.activeElement, field = active && isTextField(active);
    const range = field ? [active.selectionStart, active.selectionEnd, active.selectionDirection] : [];
    const st = { ids: new Map(), want: new Set(), later: [], used: new WeakSet() };
    for (const el of from.querySelectorAll('[id]')) {
      if (!st.ids.has(el.id) && !el.closest('[lvt-ignore]')) st.ids.set(el.id, el);
    }
    for (const el of to.querySelectorAll('[id]')) st.want.add(el.id);
    if (self) morph(from, to, st);
    else morphChildren(from, to, st);
    for (const el of st.later) if (!st.used.has(el)) el.remove(); // never claimed
    if (active && active !== document.activeElement && active.isConnected) {
      active.focus({ preventScroll: true });
      if (field) try { active.setSelectionRange(...range); } catch { /* no caret in this type */ }
    }
  }

  /** The old element with `n`'s id, same tag, that may move into `parent`; null if none. */
  function claim(st, n, parent) {
    const el = n.id && st.ids.get(n.id);
    if (!el || st.used.has(el) || el.nodeName !== n.nodeName || el.contains(parent)) return null;
    st.used.add(el);
    return el;
  }

  /** Move keeping state: moveBefore keeps focus and the like where the browser has it. */
  function move(parent, node, ref) {
    if (parent.moveBefore && node.isConnected && parent.isConnected) {
      try { return parent.moveBefore(node, ref); } catch { /* falls back to insertBefore */ }
    }
    parent.insertBefore(node, ref);
  }

  /** A new subtree went in: put old elements back where it has their ids. */
  function adopt(node, st) {
    if (node.nodeType !== 1 || !st.ids.size) return;
    for (const el of node.querySelectorAll('[id]')) {
      const old = node.contains(el) && claim(st, el, el.parentNode);
      if (old) {
        move(el.parentNode, old, el);
        el.remove();
        morph(old, el, st);
      }
    }
  }

  function morph(from, to, st) {
    if (from.nodeType !== 1) {
      if (from.nodeValue !== to.nodeValue) from.nodeValue = to.nodeValue;
      return;
    }
    if (from.hasAttribute('lvt-ignore')) return;
    keepSticky(from, to);
    const focused = from === document.activeElement, owns = ownsValue(from);
    for (const { namespaceURI: ns, name, localName, value } of Array.from(to.attributes)) {
      if (from.getAttributeNS(ns, localName) === value) continue;
      from.setAttributeNS(ns, name, value);
      // The server rendered a new value: show it, unless the user is typing in this field.
      if (name === 'value' && owns && !focused && from.value !== value) from.value = value;
      if (name === 'checked') from.checked = true;
      if (name === 'selected') from.selected = true;
    }
    for (const { name } of Array.from(from.attributes)) {
      if (to.hasAttribute(name)) continue;
      from.removeAttribute(name);
      if (name === 'checked') from.checked = false;
      if (name === 'selected') from.selected = false;
      if (name === 'value' && owns && !focused) from.value = '';
    }
    if (from.tagName === 'TEXTAREA') {
      const text = to.value;
      if (from.defaultValue !== text) {
        const value = from.value;
        from.defaultValue = text;
        from.value = focused ? value : text;
      }
      return;
    }
    morphChildren(from, to, st);
  }

  function morphChildren(from, to, st) {
    const oldKeyed = new Map();
    for (let c = from.firstChild; c; c = c.nextSibling) {
      const k = keyOf(c);
      if (k && !oldKeyed.has(k)) oldKeyed.set(k, c);
    }
    const newKeys = new Set();
    for (let c = to.firstChild; c; c = c.nextSibling) {
      const k = keyOf(c);
      if (k) newKeys.add(k);
    }
    let cur = from.firstChild;
    const stale = (n) => { const k = keyOf(n); return k && !newKeys.has(k); };
    // An old element whose id the new tree has elsewhere stays until it is claimed there.
    const drop = (n) => {
      if (n.id && st.want.has(n.id) && st.ids.get(n.id) === n && !st.used.has(n)) st.later.push(n);
      else n.remove();
    };
    for (let n = to.firstChild, next; n; n = next) {
      next = n.nextSibling;
      while (cur && stale(cur)) { const gone = cur; cur = cur.nextSibling; drop(gone); }
      const k = keyOf(n);
      let match = null;
      if (k) {
        const old = oldKeyed.get(k);
        match = claim(st, n, from) || (old && !st.used.has(old) ? old : null);
        oldKeyed.delete(k);
        if (match) st.used.add(match);
      } else if (cur && !keyOf(cur)) {
        if (sameKind(cur, n)) {
          match = cur;
        } else if (cur.nextSibling && !keyOf(cur.nextSibling) && sameKind(cur.nextSibling, n)) {
          const gone = cur; cur = cur.nextSibling; gone.remove(); match = cur;
        }
      }
      if (!match) {
        from.insertBefore(n, cur);
        adopt(n, st);
      } else {
        if (match === cur) cur = cur.nextSibling;
        else move(from, match, cur);
        morph(match, n, st);
      }
      // The subtree just placed may have claimed `cur` (by its id): go on after that subtree.
      if (cur && cur.parentNode !== from) cur = (match || n).nextSibling;
    }
    while (cur) { const gone = cur; cur = cur.nextSibling; drop(gone); }
  }

  function parseFragment(html) {
    const t = document.createElement('template');
    t.innerHTML = html;
    return t.content;
  }

  // --- Rows: apply "u" and "r" ops of a keyed range straight to the row's element -----------
  // The key attribute rule of lt_engine/wire.py (KEY_HEAD, KEY_TAIL), copied verbatim: the
  // static text before the key slot ends inside the attribute's value (after an optional
  // prefix), the text after it ends the value (after an optional suffix), same quote.
  const KEY_HEAD = /(?:^|\s)(data-key|data-lvt-key|id|key)=(["'])([^"'<>]*)$/;
  const KEY_TAIL = /^([^"'<>]*)(["'])/;

  /** The row element of an item: a range whose items are one element each, keyed by an
   * attribute of that element; null when that cannot be told for sure. */
  function rowElement(root, rng, key) {
    const statics = rng[STATICS], slot = rng[META] && rng[META][ID_KEY];
    if (slot == null) return null;
    const head = statics.slice(0, +slot + 1).join('');
    const tag = /^\s*<([a-zA-Z][\w-]*)[^>]*$/.exec(head), attr = KEY_HEAD.exec(head);
    const tail = KEY_TAIL.exec(statics[+slot + 1] || '');
    if (!tag || !attr || !tail || tail[2] !== attr[2]) return null;
    const value = attr[3] + key + tail[1];
    if (value.includes('&')) return null;  // an escaped character: let the morph decide
    const found = root.querySelectorAll(`${tag[1]}[${attr[1]}="${CSS.escape(value)}"]`);
    if (found.length !== 1 || found[0].parentElement.closest('[lvt-ignore]')) return null;
    return found[0];
  }

  /** Before merging: the rows an update changes, or null when it changes anything else. A row
   * to remove must be exactly one element, with no text around it. */
  function rowPatches(root, tree, update, out = []) {
    for (const [slot, change] of Object.entries(update)) {
      const current = tree[slot];
      if (Array.isArray(change)) {
        if (!isRange(current)) return null;
        for (const op of change) {
          const remove = op[0] === 'r';
          if (!remove && op[0] !== 'u') return null;
          const el = rowElement(root, current, op[1]);
          if (!el || (remove && !singleElement(itemHtml(current, op[1]) || '', true))) return null;
          out.push({ el, rng: current, key: op[1], remove });
        }
      } else if (isObject(change) && !(STATICS in change) && isObject(current)) {
        if (!rowPatches(root, current, change, out)) return null;
      } else {
        return null;
      }
    }
    return out;
  }

  function itemHtml(rng, key) {
    const item = rng[ITEMS].find((it) => itemKey(rng, it) === key);
    if (!item) return null;
    const parts = [];
    joinValues(rng[STATICS], item, parts);
    return parts.join('');
  }

  /** The single element an item's HTML makes, or null (text around it, several elements). */
  function singleElement(html, strict) {
    const frag = parseFragment(html);
    const nodes = Array.from(frag.childNodes);
    const els = nodes.filter((n) => n.nodeType === 1);
    const loose = nodes.every((n) => n.nodeType === 1 || (n.nodeType === 3 && !n.data.trim()));
    return els.length === 1 && (strict ? nodes.length === 1 : loose) ? els[0] : null;
  }

  // --- Forms: what a binding sends -----------------------------------------------------------
  function fieldValue(el) {
    if (el.type === 'checkbox') return el.checked ? (el.hasAttribute('value') ? el.value : 'on') : 'off';
    if (el.tagName === 'SELECT' && el.multiple) return Array.from(el.selectedOptions, (o) => o.value);
    return el.value;
  }

  function serializeForm(form, submitter) {
    const data = {}, fields = Array.from(form.elements).filter((f) => f.name && !f.disabled);
    const count = {};
    for (const f of fields) count[f.name] = (count[f.name] || 0) + 1;
    for (const f of fields) {
      const { name, type } = f;
      if (/^(submit|button|reset|image)$/.test(type) && f !== submitter) continue;
      if (type === 'file') continue;
      if (count[name] > 1 && type === 'checkbox') {
        data[name] = data[name] || [];
        if (f.checked) data[name].push(f.value);
      } else if (type === 'radio') {
        if (f.checked) data[name] = f.value;
        else if (!(name in data)) data[name] = null;
      } else if (count[name] > 1 && name in data) {
        data[name] = [].concat(data[name], fieldValue(f));
      } else if (type === 'checkbox' && f.hasAttribute('value')) {
        if (f.checked) data[name] = f.value;
      } else {
        data[name] = fieldValue(f);
      }
    }
    return data;
  }

  // --- The client ----------------------------------------------------------------------------
  const FIELD = /^(INPUT|SELECT|TEXTAREA)$/;
  const EVENTS = ['click', 'submit', 'change', 'input', 'keydown', 'keyup'];
  const LOST_PAGE = ['page_not_found', 'token_expired', 'token_invalid'];
  const RELOADED = 'lvt-lost-page-reload';  // sessionStorage: when the client last reloaded
  const STASH = 'lvt-forms';  // sessionStorage: unsent form input kept across that reload
  const FATAL = ['origin', 'token_missing'];
  const STATES = ['connecting', 'connected', 'disconnected'];
  const MAX_QUEUE = 100;
  const COMMAND = /^\s*([\w-]+)\s*\(([^]*)\)\s*$/;
  const script = document.currentScript;
  const scriptOption = (name) => script && script.getAttribute(`data-lvt-${name}`);
  const storage = (fn) => { try { return fn(sessionStorage); } catch { return null; } };
  const checkable = (f) => /^(checkbox|radio)$/.test(f.type);
  let instances = 0;

  /** The key a form field is kept under across a reload; null for fields never kept. */
  function fieldKey(f) {
    if (!f.name || f.multiple || /^(file|submit|button|reset|image|hidden|password)$/.test(f.type)) return null;
    return checkable(f) ? `${f.name}=${f.value}` : f.name;
  }

  /** Whether the user changed a field from what the server rendered. */
  function dirty(f) {
    if (checkable(f)) return f.checked !== f.defaultChecked;
    if (f.tagName === 'SELECT') {
      const opts = Array.from(f.options), first = opts.map((o) => o.defaultSelected);
      return f.multiple ? opts.some((o, i) => o.selected !== first[i])
        : f.selectedIndex !== Math.max(0, first.lastIndexOf(true));
    }
    return FIELD.test(f.tagName) && f.value !== f.defaultValue;
  }

  /** Steps of a binding: `name(args)` is a client-side command, a bare word an action. */
  const steps = (value) => (value || '').split(';').map((s) => s.trim()).filter(Boolean);

  class LiveTemplateClient {
    constructor(options = {}) {
      this.options = {
        url: scriptOption('url') || '/ws',
        root: scriptOption('root') || null,
        token: null,
        loadingClass: 'lvt-loading',
        reconnectDelay: 250,
        maxReconnectDelay: 10000,
        reloadOnLostPage: true,
        hooks: {},
        ...options,
      };
      this.tree = null;
      this.token = null;
      this.ws = null;
      this.root = null;
      this.pending = [];
      this.queue = [];
      this.attempts = 0;
      this.timers = new WeakMap();
      this.hooks = new Map();
      this.handlers = new Map();
      this.waits = {}; // upload name -> the announcement's resolve, until meta.upload comes
      this.observer = new MutationObserver(() => {});
      instances++;
    }

    /** Open the WebSocket: to `url` if given, else the configured one (default `/ws`). */
    connect(url) {
      if (url) this.options.url = url;
      const root = this.options.root;
      this.root = typeof root === 'string' ? document.querySelector(root) : root || document.body;
      const meta = document.querySelector('meta[name="livetemplate-token"]');
      this.token = this.options.token || (meta && meta.content) || null;
      this.pageToken = !!this.token;
      history.replaceState({ ...history.state, lvt: this.token }, ''); // this entry: this page
      if (!this.bound) {
        this.bound = (e) => this.handle(e);
        for (const type of EVENTS) this.root.addEventListener(type, this.bound);
        for (const type of ['focus', 'blur']) this.root.addEventListener(type, this.bound, true);
        for (const type of ['keydown', 'keyup']) {
          const attr = `lvt-window-${type}`;
          window.addEventListener(type, (e) => this.root.querySelectorAll(`[${attr}]`).forEach((el) => this.run(el, attr, e)));
        }
        // Which elements a click is away from is decided before the click's own bindings run
        // (a menu this click opens is not away from it), their bindings after them.
        document.addEventListener('click', (e) => {
          this.away = Array.from(this.root.querySelectorAll('[lvt-click-away]')).filter(
            (el) => !el.contains(e.target) && el.getClientRects().length > 0);
        }, true);
        document.addEventListener('click', (e) => (this.away || []).forEach((el) => this.run(el, 'lvt-click-away', e)));
        // Files dropped on an lvt-drop-target="name" become the files of input[lvt-upload=name].
        for (const type of ['dragover', 'drop']) {
          this.root.addEventListener(type, (e) => {
            const t = e.target.closest && e.target.closest('[lvt-drop-target]');
            if (!t) return;
            e.preventDefault();
            const input = type === 'drop' && this.root.querySelector(`input[lvt-upload="${t.getAttribute('lvt-drop-target')}"]`);
            if (input) {
              input.files = e.dataTransfer.files;
              input.dispatchEvent(new Event('change', { bubbles: true }));
            }
          });
        }
        // Back/forward to an entry this client made: this page at another URL, or another page.
        window.addEventListener('popstate', (e) => {
          const s = e.state;
          if (s && 'lvt' in s) this.go(location.href, s.lvt !== this.token, null);
        });
      }
      this.closed = false;
      if (!this.synced) this.state('connecting');
      this.open();
      return this;
    }

    /** Close the connection for good (no reconnect). */
    disconnect() {
      this.closed = true;
      clearTimeout(this.retry);
      if (this.ws) this.ws.close(1000);
    }

    /** The root's connection class: lvt-connecting, lvt-connected or lvt-disconnected. */
    state(name) {
      this.status = name;
      for (const s of STATES) setClass(this.root, `lvt-${s}`, s === name);
    }

    endpoint(scheme) {
      const url = new URL(this.options.url, location.href);
      url.protocol = url.protocol.replace(/^(http|ws)/, scheme);
      return url.href;
    }

    open() {
      let ws;
      try {
        // The token goes as a subprotocol (a header), never in the URL, which access logs keep.
        const protocols = this.token ? ['livetemplate', `livetemplate.token.${this.token}`] : [];
        ws = new WebSocket(this.endpoint('ws'), protocols);
      } catch (err) {
        this.emit('lvt:error', { code: 'connect', message: String(err) });
        return this.down();
      }
      this.ws = ws;
      this.fresh = true;
      this.refusal = null;
      ws.onopen = () => { this.opened = true; this.emit('lvt:connected', { url: ws.url }); };
      ws.onmessage = (e) => this.receive(e.data);
      ws.onclose = (e) => {
        if (this.ws !== ws) return;
        this.ws = null;
        this.settle();
        // Only a socket that was up carried uploads: a failed reconnect must not stop one that
        // goes over the HTTP fallback meanwhile.
        if (this.opened) this.fail();
        if (this.opened) this.emit('lvt:disconnected', { code: e.code, reason: e.reason });
        this.opened = false;
        const code = this.refusal;
        if (LOST_PAGE.includes(code)) {
          if (!this.pageToken) { this.token = null; return this.open(); } // Pattern 1: new page
          this.down(true);
          return this.lostPage();
        }
        this.down(FATAL.includes(code));
      };
    }

    /** The connection is down: say so (once), tell the hooks, and retry unless `stop`. */
    down(stop) {
      if (this.status !== 'disconnected') {
        this.state('disconnected');
        for (const h of this.hooks.values()) this.call(h, 'disconnected');
      }
      if (!stop) this.reconnect();
    }

    /** The page's server-side page is gone (expired, server restarted): load the document
     *  again for a new one, unless that was done moments ago (a server that keeps handing out
     *  pages it cannot find again would otherwise reload forever). Unsent form input is kept
     *  in sessionStorage and put back after the reload. */
    lostPage() {
      if (!this.options.reloadOnLostPage) return;
      const last = Number(storage((s) => s.getItem(RELOADED)) || 0);
      if (Date.now() - last < 10000) {
        return this.emit('lvt:error', { code: 'page_lost_again',
          message: 'the page was lost again right after a reload; not reloading again' });
      }
      const forms = {};
      this.forms((form, id) => {
        const kept = {};
        for (const f of form.elements) if (fieldKey(f) && dirty(f)) kept[fieldKey(f)] = checkable(f) ? f.checked : f.value;
        if (Object.keys(kept).length) forms[id] = kept;
      });
      storage((s) => {
        s.setItem(RELOADED, String(Date.now()));
        s.setItem(STASH, JSON.stringify({ path: location.pathname, forms }));
      });
      location.reload();
    }

    forms(fn) {
      this.root.querySelectorAll('form').forEach((form, i) => fn(form, form.id || `#${i}`));
    }

    /** After a reconnect or a reload: put kept input back, then send each form the user has
     *  changed to its `lvt-recover` action (default: its `lvt-change`, else `lvt-input`). */
    recover(again) {
      const kept = storage((s) => { const v = s.getItem(STASH); s.removeItem(STASH); return JSON.parse(v); });
      this.forms((form, id) => {
        const values = kept && kept.path === location.pathname && kept.forms[id];
        if (!values && !again) return;
        for (const f of values ? form.elements : []) {
          const k = fieldKey(f);
          if (k && k in values) f[checkable(f) ? 'checked' : 'value'] = values[k];
        }
        const action = steps(form.hasAttribute('lvt-recover') ? form.getAttribute('lvt-recover')
          : form.getAttribute('lvt-change') || form.getAttribute('lvt-input')).find((s) => !COMMAND.test(s));
        if (action && Array.from(form.elements).some(dirty)) this.send(action, serializeForm(form), form);
      });
    }

    reconnect() {
      if (this.closed) return;
      const { reconnectDelay: base, maxReconnectDelay: max } = this.options;
      const delay = Math.min(max, base * 2 ** this.attempts++) * (0.5 + Math.random() / 2);
      clearTimeout(this.retry);
      this.retry = setTimeout(() => this.open(), delay);
    }

    receive(text) {
      let msg;
      try {
        msg = JSON.parse(text);
      } catch (err) {
        return this.emit('lvt:error', { code: 'bad_json', message: String(err) });
      }
      if (msg.type === 'page_token') {
        this.token = msg.token;
      } else if (msg.type === 'error') {
        this.refusal = msg.code;
        this.fail();
        this.settle(1);
        this.emit('lvt:error', msg);
      } else if (isObject(msg.tree)) {
        // Root statics mark a full tree: the first of a connection, or a reloaded template's.
        const first = this.fresh, full = first || !this.tree || STATICS in msg.tree;
        this.fresh = false;
        this.attempts = 0;
        this.refusal = null;
        if (this.apply(msg.tree, msg.meta || {}, full) && first) this.live();
      }
    }

    /** The first tree of a connection is in: connected; send what waited, recover forms. */
    live() {
      const again = this.synced;
      this.synced = true;
      this.state('connected');
      for (const msg of this.queue.splice(0)) this.transmit(msg);
      if (again) for (const h of this.hooks.values()) this.call(h, 'reconnected');
      this.recover(again);
    }

    apply(tree, meta, full) {
      let rows = null;
      try {
        if (full) {
          // the same page again (a reconnect), not another (a navigation, a new page per socket)
          if (this.tree && this.kept === this.token) keepStreams(this.tree, tree);
          this.kept = this.token;
          this.tree = tree;
        } else {
          try { rows = rowPatches(this.root, this.tree, tree); } catch { /* merge says why */ }
          applyUpdate(this.tree, tree);
        }
        this.render(rows);
      } catch (err) {
        this.emit('lvt:error', { code: 'protocol', message: err.message });
        if (this.ws) this.ws.close(4000, 'resync'); // the next connection starts with a full tree
        return;
      }
      if (meta.action) this.settle(1, meta);
      const up = meta.upload, w = up && this.waits[up.name];
      if (w) w(up);
      this.emit('lvt:update', { update: tree, meta, full });
      // Where an action sends the browser, with the flash it leaves for a page loaded next.
      if (meta.flash) document.cookie = `livetemplate_flash=${meta.flash};path=/;max-age=60;samesite=lax`;
      if (meta.redirect) location.assign(meta.redirect);
      else if (meta.patch || meta.navigate) this.go(meta.patch || meta.navigate, !meta.patch, meta.replace);
      for (const [name, payload] of meta.events || []) {
        for (const fn of this.handlers.get(name) || []) this.call({ fn }, 'fn', payload);
      }
      return true;
    }

    /** Patch the DOM to the tree: the rows named by `rows`, else everything through a morph;
     *  then mount, update and destroy hooks as their elements came, changed and went. */
    render(rows) {
      const obs = this.observer;
      obs.observe(this.root, { subtree: true, childList: true, attributes: true, characterData: true });
      this.patching = true;
      let changed;
      try {
        const done = rows && rows.every((p) => {
          if (!p.el.isConnected) return false;
          if (p.remove) return p.el.remove(), true;
          const html = itemHtml(p.rng, p.key);
          const el = html && singleElement(html);
          return el && sameKind(p.el, el) ? (patch(p.el, el, true), true) : false;
        });
        if (!done) this.morphAll();
      } finally {
        this.patching = false;
        changed = obs.takeRecords().map((r) => r.target);
        obs.disconnect();
      }
      const now = new Set(this.root.querySelectorAll('[lvt-hook]'));
      for (const [el, h] of this.hooks) {
        if (!now.has(el) || h.name !== el.getAttribute('lvt-hook')) {
          this.hooks.delete(el);
          for (const off of h.offs) off();
          this.call(h, 'destroyed');
        }
      }
      for (const el of now) {
        const h = this.hooks.get(el);
        if (!h) this.mount(el);
        else if (changed.some((t) => el.contains(t))) this.call(h, 'updated');
      }
    }

    /** Bind the hook named by `el`'s lvt-hook (options.hooks, else window.LiveTemplateHooks). */
    mount(el) {
      const name = el.getAttribute('lvt-hook');
      const def = this.options.hooks[name] || (window.LiveTemplateHooks || {})[name];
      if (!def) this.emit('lvt:error', { code: 'hook', message: `no hook named ${JSON.stringify(name)}` });
      const h = Object.create(def || {});
      Object.assign(h, {
        el, name, client: this, offs: [],
        pushEvent: (action, data = {}) => this.send(action, data, el),
        handleEvent: (event, fn) => h.offs.push(this.handleEvent(event, fn)),
        exec: (commands) => this.exec(commands, el),
      });
      this.hooks.set(el, h);
      this.call(h, 'mounted');
    }

    /** Call `obj[fn]` if it exists; an exception in user code becomes an lvt:error. */
    call(obj, fn, arg) {
      try {
        if (typeof obj[fn] === 'function') obj[fn](arg);
      } catch (err) {
        this.emit('lvt:error', { code: 'hook', message: `${obj.name || 'handler'}.${fn}: ${err}` });
      }
    }

    /** Run `fn(payload)` for each server event `name`; returns a function that stops it. */
    handleEvent(name, fn) {
      if (!this.handlers.has(name)) this.handlers.set(name, new Set());
      this.handlers.get(name).add(fn);
      return () => this.handlers.get(name).delete(fn);
    }

    morphAll() {
      const html = toHtml(this.tree);
      const root = this.root;
      if (/<body[\s>]/i.test(html)) {
        // A whole document: the live root is <body> (or the element with the root's id).
        const doc = new DOMParser().parseFromString(html, 'text/html');
        if (doc.title !== document.title) document.title = doc.title;
        const to = (root.id && doc.getElementById(root.id)) || doc.body;
        keepSticky(root, to);
        for (const { name } of Array.from(root.attributes)) {
          if (!to.hasAttribute(name)) root.removeAttribute(name);
        }
        for (const { name, value } of Array.from(to.attributes)) {
          if (root.getAttribute(name) !== value) root.setAttribute(name, value);
        }
        patch(root, to);
      } else {
        patch(root, parseFragment(html));
      }
    }

    /** Go to `url` live: a patch (`nav` false) keeps the page and sends the server the new URL;
     *  a navigation fetches the live page there and joins it over this connection. Either pushes
     *  the URL (`how` true: replaces it; null: leaves history alone, as after back). A full page
     *  load where that cannot work: another origin or endpoint, no open connection, no fetch. */
    go(url, nav, how) {
      const u = new URL(url, location.href), load = () => location.assign(u.href);
      const open = () => this.ws && this.ws.readyState === 1;
      const push = (to) => how !== null && history[how ? 'replaceState' : 'pushState']({ lvt: this.token }, '', to);
      if (u.origin !== location.origin || !open()) return load();
      if (!nav) return push(u.href), this.transmit({ type: 'params', url: u.pathname + u.search });
      fetch(u.href).then((r) => Promise.all([r.url, r.text()])).then(([to, html]) => {
        const doc = new DOMParser().parseFromString(html, 'text/html');
        const meta = doc.querySelector('meta[name="livetemplate-token"]');
        const script = doc.querySelector('script[data-lvt-url]');
        if (!meta || !open() || (script ? script.getAttribute('data-lvt-url') : '/ws') !== this.options.url) return load();
        this.token = meta.content;
        push(to);
        document.title = doc.title;
        this.transmit({ type: 'join', token: this.token });
        if (how !== null) scrollTo(0, 0);
      }).catch(load);
    }

    /** Send an action: over the WebSocket when open, else by HTTP POST to the endpoint, else
     *  (no token yet, or the server unreachable) queued until the next connection. */
    send(action, data = {}, el = null, submit = false) {
      const msg = { type: 'action', action, data }, t = el && el.closest('[lvt-target]');
      if (t) msg.target = t.getAttribute('lvt-target');  // a component's action
      if (el) {
        this.busy(el, true);
        this.pending.push({ action, el, submit, msg });
      }
      this.post(msg);
    }

    post(msg) {
      if (this.ws && this.ws.readyState === 1) return this.transmit(msg);
      if (!this.token) return this.wait(msg);
      this.http(JSON.stringify(msg), 'application/json').then((r) => r === undefined && this.wait(msg));
    }

    /** POST `body` to the endpoint; resolves to the reply (applied), null for an error reply,
     *  undefined when the server was unreachable. */
    http(body, type) {
      return fetch(this.endpoint('http'), {
        method: 'POST',
        headers: { 'Content-Type': type, 'X-LiveTemplate-Token': this.token },
        body,
      }).then((r) => r.json()).then((reply) => {
        if (reply.type !== 'error') return this.apply(reply.tree, reply.meta || {}, true), reply;
        this.fail();
        this.settle(1);
        this.emit('lvt:error', reply);
        if (LOST_PAGE.includes(reply.code) && this.pageToken) this.lostPage();
        return null;
      }, () => {});
    }

    /** Before a form's submit action: upload the files chosen in its lvt-upload inputs; the
     *  action is sent once they are all in, not at all when one was refused or failed. */
    async uploads(form, go) {
      const inputs = Array.from(form.querySelectorAll('input[type=file][lvt-upload]')).filter((i) => i.files.length);
      if (!inputs.length) return go();
      setClass(form, this.options.loadingClass, true, true);
      let ok = true;
      for (const i of inputs) ok = ok && (await this.upload(i.getAttribute('lvt-upload'), Array.from(i.files)));
      setClass(form, this.options.loadingClass, false, true);
      if (ok) go();
    }

    /** Announce `files` as upload `name`, then send each accepted one in chunk frames:
     *  [2-byte header length][JSON {"ref", "offset"}][bytes] (docs/protocol.md, "Uploads"). */
    async upload(name, files) {
      const info = await new Promise((resolve) => {
        this.waits[name] = resolve;
        this.post({ type: 'upload', upload: name, entries: files.map((f) => ({ name: f.name, type: f.type, size: f.size })) });
      });
      delete this.waits[name];
      if (!info.refs || !info.refs.length) return false;
      this.failed = false;
      for (const [n, f] of files.entries()) {
        for (let o = 0; o < f.size; o += info.chunk) {
          const head = new TextEncoder().encode(JSON.stringify({ ref: info.refs[n], offset: o }));
          const data = new Uint8Array(await f.slice(o, o + info.chunk).arrayBuffer());
          const frame = new Uint8Array(2 + head.length + data.length);
          frame.set([head.length >> 8, head.length & 255]);
          frame.set(head, 2);
          frame.set(data, 2 + head.length);
          if (!(await this.chunk(frame))) return false;
        }
      }
      return true;
    }

    /** One chunk frame: over the WebSocket (waiting while much is buffered), else by POST. */
    async chunk(frame) {
      const ws = this.ws;
      if (!ws || ws.readyState !== 1) return this.token && !!(await this.http(frame, 'application/octet-stream'));
      ws.send(frame);
      while (ws.bufferedAmount > 1 << 20 && ws.readyState === 1) await new Promise((r) => setTimeout(r, 5));
      return ws.readyState === 1 && !this.failed;
    }

    /** An error or a closed connection: uploads in flight stop, announcements get no refs. */
    fail() {
      this.failed = true;
      for (const name in this.waits) this.waits[name]({});
    }

    transmit(msg) {
      this.ws.send(JSON.stringify(msg));
    }

    /** Keep `msg` for the next connection (sent when it is live), or refuse it if too many wait. */
    wait(msg) {
      if (this.ws && this.ws.readyState === 1 && this.status === 'connected') return this.transmit(msg);
      if (this.queue.length < MAX_QUEUE) return void this.queue.push(msg);
      const i = this.pending.findIndex((p) => p.msg === msg);
      if (i >= 0) this.done(this.pending.splice(i, 1)[0]);
      this.emit('lvt:error', { code: 'disconnected', message: `not connected and ${MAX_QUEUE} actions wait; action ${msg.action} dropped` });
    }

    /** Drop the loading state of `n` pending actions (all not waiting in the queue when n is
     *  undefined: the connection closed before their replies). */
    settle(n, meta) {
      if (n === undefined) {
        const [waiting, gone] = [[], []];
        for (const p of this.pending) (this.queue.includes(p.msg) ? waiting : gone).push(p);
        this.pending = waiting;
        return gone.forEach((p) => this.done(p));
      }
      const i = meta ? this.pending.findIndex((p) => p.action === meta.action) : 0;
      if (i < 0) return;
      for (const p of this.pending.splice(i, n)) this.done(p, meta);
    }

    done(p, meta) {
      this.busy(p.el, false);
      // Only a submit resets its form: a change or input form keeps what the user is entering.
      const reset = p.submit && p.el.tagName === 'FORM' && !p.el.hasAttribute('lvt-no-reset');
      if (meta && meta.success && reset) p.el.reset();
    }

    /** While `el`'s action is in flight: the loading class, and each lvt-disable-with element
     *  (the element itself, or inside it) disabled, showing that text. */
    busy(el, on) {
      setClass(el, this.options.loadingClass, on, true);
      for (const b of [el, ...el.querySelectorAll('[lvt-disable-with]')]) {
        if (!b.hasAttribute('lvt-disable-with')) continue;
        const s = stick(b), p = b.tagName === 'INPUT' ? 'value' : 'textContent';
        if (on && s.t == null) {
          s.o = b[p];
          b[p] = s.t = b.getAttribute('lvt-disable-with');
        } else if (!on && s.t != null) {
          b[p] = s.o;
          s.t = null;
        }
        if (on) s.a.disabled = '';
        else delete s.a.disabled;
        b.disabled = on;
      }
    }

    handle(e) {
      if (this.patching) return; // focus moves made by a patch are not the user's
      const type = e.type, attr = `lvt-${type}`;
      const a = type === 'click' && e.target.closest && e.target.closest('a[lvt-patch],a[lvt-navigate]');
      if (a && this.root.contains(a) && !(e.ctrlKey || e.metaKey || e.shiftKey || e.altKey)) {
        e.preventDefault(); // a new tab or window (a modifier key) loads the link as usual
        return this.go(a.href, a.hasAttribute('lvt-navigate'), a.hasAttribute('lvt-replace'));
      }
      const el = /^(focus|blur)$/.test(type) ? e.target.hasAttribute && e.target.hasAttribute(attr) && e.target
        : e.target.closest && e.target.closest(`[${attr}]`);
      if (!el || !this.root.contains(el)) return;
      if (type === 'submit' || (type === 'click' && /^(A|BUTTON)$/.test(el.tagName))) e.preventDefault();
      this.run(el, attr, e);
    }

    /** An element's binding for event `e`: its commands now, its action (debounced, throttled). */
    run(el, attr, e) {
      const keys = el.getAttribute('lvt-key');
      if (e.key !== undefined && keys && !keys.split(',').map((k) => k.trim()).includes(e.key)) return;
      const type = attr.slice(4);
      this.exec(el.getAttribute(attr), el, (action) => this.schedule(el, type, () => {
        const go = () => this.send(action, this.collect(el, e, type), el, type === 'submit');
        type === 'submit' ? this.uploads(el, go) : go();
      }));
    }

    /** Run a command list on `el`'s behalf: `show(#menu); add_class(open, #menu); save`. A
     *  bare word is an action, sent by `push` (default: sent with no data). */
    exec(value, el, push = (action) => this.send(action, {}, el)) {
      for (const step of steps(value)) {
        const m = COMMAND.exec(step);
        if (!m && /^[\w.:-]+$/.test(step)) { push(step); continue; }
        try {
          if (!m) throw new Error('neither an action name nor a command(arguments)');
          this.command(m[1].replace(/-/g, '_'), m[2], el);
        } catch (err) {
          this.emit('lvt:error', { code: 'command', message: `${step}: ${err.message}` });
        }
      }
    }

    command(name, args, el) {
      const i = args.indexOf(','), one = /^(show|hide|toggle|focus)$/.test(name);
      const arg = (i < 0 ? args : args.slice(0, i)).trim();
      const sel = one ? args.trim() : i < 0 ? '' : args.slice(i + 1).trim();
      const targets = sel ? Array.from(document.querySelectorAll(sel)) : [el];
      const [attr, value = ''] = arg.split(/=(.*)/s);
      for (const t of targets) {
        const hidden = getComputedStyle(t).display === 'none';
        if (name === 'show' || (name === 'toggle' && hidden)) {
          stick(t).d = t.style.display = '';
          if (getComputedStyle(t).display === 'none') stick(t).d = t.style.display = 'block';
        } else if (name === 'hide' || name === 'toggle') stick(t).d = t.style.display = 'none';
        else if (/^(add|remove|toggle)_class$/.test(name)) {
          for (const c of arg.split(/\s+/).filter(Boolean)) {
            setClass(t, c, name[0] === 'a' || (name[0] === 't' && !t.classList.contains(c)));
          }
        } else if (name === 'set_attr') setAttr(t, attr.trim(), value);
        else if (name === 'remove_attr') setAttr(t, arg, null);
        else if (name === 'focus') t.focus();
        else if (name === 'dispatch') t.dispatchEvent(new CustomEvent(arg, { bubbles: true }));
        else throw new Error(`unknown command ${name}`);
      }
    }

    collect(el, e, type) {
      let data = {};
      if (!/click/.test(type)) {
        if (el.tagName === 'FORM') data = serializeForm(el, e.submitter);
        else {
          const field = FIELD.test(el.tagName) ? el : el.contains(e.target) && e.target;
          if (field && FIELD.test(field.tagName)) data[field.name || 'value'] = fieldValue(field);
        }
      }
      if (e.key !== undefined) data.key = e.key;
      for (const { name, value } of Array.from(el.attributes)) {
        if (name.startsWith('lvt-value-')) data[name.slice(10).replace(/-/g, '_')] = value;
      }
      return data;
    }

    /** Run `fire` now, or per the element's lvt-debounce / lvt-throttle (ms). */
    schedule(el, type, fire) {
      const debounce = el.getAttribute('lvt-debounce'), throttle = el.getAttribute('lvt-throttle');
      if (debounce === null && throttle === null) return fire();
      const all = this.timers.get(el) || {};
      this.timers.set(el, all);
      const t = (all[type] = all[type] || { last: 0 });
      clearTimeout(t.timer);
      if (debounce !== null) return void (t.timer = setTimeout(fire, +debounce || 0));
      const wait = +throttle - (Date.now() - t.last);
      const run = () => { t.last = Date.now(); fire(); };
      if (wait <= 0) run();
      else t.timer = setTimeout(run, wait); // trailing call with the latest input
    }

    emit(name, detail) {
      const target = this.root || document;
      target.dispatchEvent(new CustomEvent(name, { detail, bubbles: true }));
    }
  }

  Object.assign(LiveTemplateClient, { applyUpdate, toHtml, morph: patch, ProtocolError });
  window.LiveTemplateClient = LiveTemplateClient;

  // One-line start: the <script> tag alone makes the page live, unless it says data-lvt-manual
  // or the page made its own client before the document finished loading.
  function autostart() {
    const manual = script && script.hasAttribute('data-lvt-manual');
    if (instances || manual || !/^https?:$/.test(location.protocol)) return;
    window.liveTemplate = new LiveTemplateClient().connect();
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', autostart);
  else setTimeout(autostart);
})();
