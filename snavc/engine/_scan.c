/* The line scanner of snavc/engine/scan.py, in C: the same function for the same
 * input, written line for line after the Python one (read them side by side; the
 * Python is the reference and tests/test_scan.py holds the two equal).
 *
 * scan(text, resolve_plain, max_depth) -> list of (line, 1, value, positions), or None
 * when the text is outside the subset (the caller then reads it with libyaml), texts
 * with unusual characters (scan._unusual()) included.
 *
 * One difference of form: the positions of each document come marshalled, as
 * load.Document keeps them (marshal.loads of them is what scan.py returns), written
 * here as the values are read: the position tree is never made as objects (most
 * documents' are never read) nor walked again by marshal.dumps.
 *
 * Every read of the text is bounds-checked: where Python would raise IndexError (and
 * scan.scan return None), this returns FALLBACK. Columns are code points, as Python's
 * str indices are. Errors of resolve_plain other than ValueError and OverflowError
 * propagate, as in Python.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

typedef struct {
    Py_ssize_t number; /* 1-based line number */
    Py_ssize_t indent; /* leading spaces */
    Py_ssize_t start;  /* index of the line's first character in the text */
    Py_ssize_t len;    /* its length, without the \n */
} Line;

typedef struct {
    PyObject *text;
    int kind;
    const void *data;
    Line *lines;
    Py_ssize_t n;
    PyObject *resolve;
    int max_depth;
    char *out; /* the positions, marshalled */
    Py_ssize_t used, size;
} Sc;

/* results of the parsing functions */
#define OK 0
#define FALLBACK (-1) /* outside the subset: no exception set */
#define ERROR (-2)    /* a Python exception is set */

#define AT(s, ln, k) PyUnicode_READ((s)->kind, (s)->data, (ln)->start + (k))

static int is_key_first(Py_UCS4 c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}
static int is_key_char(Py_UCS4 c) { return is_key_first(c) || c == '.' || c == '/' || c == '-'; }
static int is_value_first(Py_UCS4 c)
{
    return is_key_first(c) || c == '.' || c == '/' || c == '+' || c == '~';
}
static int is_word_first(Py_UCS4 c) { return is_key_first(c) || c == '.' || c == '+' || c == '~'; }
static int is_word_char(Py_UCS4 c) { return is_word_first(c) || c == '/' || c == '-'; }
static int one_of(Py_UCS4 c, const char *set) { return c != 0 && c < 128 && strchr(set, (int)c) != NULL; }
/* scan._TEXT: a plain scalar starting so is a string as it is */
static int is_text_first(Py_UCS4 c) { return c < 128 && !one_of(c, "-+.0123456789nN~tTfF"); }
static int is_indicator(Py_UCS4 c) { return one_of(c, "-?:,[]{}#&*!|>'\"%@`"); }

/* ---- positions, in marshal's format ------------------------------------------------
 *
 * The codes marshal.loads reads (Python/marshal.c): '{' key value ... '0' a dict;
 * '[' n items a list (n: 4 bytes, little-endian); ')' n items a tuple of n < 256;
 * 'i' 4 bytes an int of 32 bits; 'l' n digits an int (n 15-bit digits of 2 bytes, the
 * lowest first); 'Z' n chars and 'A' 4-byte n chars an ASCII string, interned. A value
 * with a nested collection is the tuple (packed, child), as in scan.py.
 */

typedef unsigned __int128 u128;

/* room for n more bytes at s->out + s->used */
static int reserve(Sc *s, Py_ssize_t n)
{
    if (s->used + n > s->size) {
        Py_ssize_t size = s->size ? s->size : 4096;
        while (size < s->used + n)
            size *= 2;
        char *out = PyMem_Realloc(s->out, (size_t)size);
        if (out == NULL) {
            PyErr_NoMemory();
            return ERROR;
        }
        s->out = out;
        s->size = size;
    }
    return OK;
}

static int put(Sc *s, const char *bytes, Py_ssize_t n)
{
    if (reserve(s, n) < 0)
        return ERROR;
    memcpy(s->out + s->used, bytes, (size_t)n);
    s->used += n;
    return OK;
}

static void le32(char *at, Py_ssize_t v)
{
    for (int i = 0; i < 4; i++)
        at[i] = (char)((unsigned long long)v >> (8 * i));
}

static int put_int(Sc *s, u128 v)
{
    char bytes[2 + 4 + 2 * 9];
    Py_ssize_t n = 0;
    if (v <= 0x7fffffff) {
        bytes[n++] = 'i';
        le32(bytes + n, (Py_ssize_t)v);
        return put(s, bytes, n + 4);
    }
    bytes[n++] = 'l';
    n += 4;
    int digits = 0;
    for (; v != 0; v >>= 15, digits++) {
        bytes[n++] = (char)(v & 0xff);
        bytes[n++] = (char)((v >> 8) & 0x7f);
    }
    le32(bytes + 1, digits);
    return put(s, bytes, n);
}

/* scan.py's packed positions: line and column of a list item; key's and value's of a
 * mapping entry */
static int put_pos(Sc *s, Py_ssize_t line, Py_ssize_t col)
{
    return put_int(s, ((u128)(unsigned long long)line << 32) | (u128)(unsigned long long)col);
}

static int put_pos4(Sc *s, Py_ssize_t kl, Py_ssize_t kc, Py_ssize_t vl, Py_ssize_t vc)
{
    u128 hi = ((u128)(unsigned long long)kl << 32) | (u128)(unsigned long long)kc;
    u128 lo = ((u128)(unsigned long long)vl << 32) | (u128)(unsigned long long)vc;
    return put_int(s, (hi << 64) | lo);
}

/* the tuple (packed, child) opens before its packed position */
static int put_pair(Sc *s) { return put(s, ")\x02", 2); }

/* a key (match_key's characters: ASCII) */
static int put_key(Sc *s, const Line *ln, Py_ssize_t a, Py_ssize_t b)
{
    char head[5];
    Py_ssize_t n = b - a, h;
    if (n < 256) {
        head[0] = 'Z';
        head[1] = (char)n;
        h = 2;
    }
    else {
        head[0] = 'A';
        le32(head + 1, n);
        h = 5;
    }
    if (put(s, head, h) < 0 || reserve(s, n) < 0)
        return ERROR;
    for (Py_ssize_t k = a; k < b; k++)
        s->out[s->used++] = (char)AT(s, ln, k);
    return OK;
}

/* a list's head; its length is written by close_list once known */
static int open_list(Sc *s, Py_ssize_t *at)
{
    *at = s->used + 1;
    return put(s, "[\0\0\0\0", 5);
}

static void close_list(Sc *s, Py_ssize_t at, Py_ssize_t n) { le32(s->out + at, n); }

/* ---- the regular expressions of scan.py, as functions ----------------------------- */

/* _KEY at p: the key is [p, *kend) (*kend is the ':'), the match ends at *mend */
static int match_key(Sc *s, const Line *ln, Py_ssize_t p, Py_ssize_t *kend, Py_ssize_t *mend)
{
    Py_ssize_t L = ln->len, q = p;
    if (q >= L || !is_key_first(AT(s, ln, q)))
        return 0;
    for (q++; q < L && is_key_char(AT(s, ln, q)); q++)
        ;
    if (q >= L || AT(s, ln, q) != ':')
        return 0;
    *kend = q++;
    if (q == L) {
        *mend = q;
        return 1;
    }
    if (AT(s, ln, q) != ' ')
        return 0;
    while (q < L && AT(s, ln, q) == ' ')
        q++;
    *mend = q;
    return 1;
}

/* _SIMPLE at p: the value is [p, *vend) */
static int match_simple(Sc *s, const Line *ln, Py_ssize_t p, Py_ssize_t *vend)
{
    Py_ssize_t L = ln->len, last = p + 1;
    if (p >= L || !is_value_first(AT(s, ln, p)))
        return 0;
    for (Py_ssize_t q = p + 1; q < L; q++) {
        Py_UCS4 c = AT(s, ln, q);
        if (c == ':' || c == '#')
            return 0;
        if (c != ' ')
            last = q + 1;
    }
    *vend = last;
    return 1;
}

/* _SIMPLE_LIST at p (a '[' there) */
static int match_simple_list(Sc *s, const Line *ln, Py_ssize_t p)
{
    Py_ssize_t L = ln->len, q = p + 1;
    if (p >= L || AT(s, ln, p) != '[')
        return 0;
    for (;;) {
        if (q >= L || !is_word_first(AT(s, ln, q)))
            return 0;
        for (q++; q < L && is_word_char(AT(s, ln, q)); q++)
            ;
        if (q + 1 < L && AT(s, ln, q) == ',' && AT(s, ln, q + 1) == ' ') {
            q += 2;
            continue;
        }
        break;
    }
    if (q >= L || AT(s, ln, q) != ']')
        return 0;
    for (q++; q < L && AT(s, ln, q) == ' '; q++)
        ;
    return q == L;
}

/* scan._is_entry */
static int is_entry(Sc *s, const Line *ln, Py_ssize_t col)
{
    return col < ln->len && AT(s, ln, col) == '-' && (ln->len == col + 1 || AT(s, ln, col + 1) == ' ');
}

/* ---- scalars ---------------------------------------------------------------------- */

static PyObject *sub(Sc *s, const Line *ln, Py_ssize_t a, Py_ssize_t b)
{
    return PyUnicode_Substring(s->text, ln->start + a, ln->start + b);
}

static PyObject *interned(Sc *s, const Line *ln, Py_ssize_t a, Py_ssize_t b)
{
    PyObject *t = sub(s, ln, a, b);
    if (t != NULL)
        PyUnicode_InternInPlace(&t);
    return t;
}

static PyObject *resolved(Sc *s, const Line *ln, Py_ssize_t a, Py_ssize_t b)
{
    PyObject *t = sub(s, ln, a, b);
    if (t == NULL)
        return NULL;
    PyObject *v = PyObject_CallOneArg(s->resolve, t);
    Py_DECREF(t);
    return v;
}

/* `intern(text) if text[0] in _TEXT else resolve_plain(text)` */
static PyObject *plain_word(Sc *s, const Line *ln, Py_ssize_t a, Py_ssize_t b)
{
    return is_text_first(AT(s, ln, a)) ? interned(s, ln, a, b) : resolved(s, ln, a, b);
}

/* scan._ESCAPES: the character an escape of a double-quoted scalar stands for, or
   (Py_UCS4)-1 for one left to libyaml */
static Py_UCS4 escape_of(Py_UCS4 c)
{
    switch (c) {
    case '\\': return '\\';
    case '"': return '"';
    case '/': return '/';
    case ' ': return ' ';
    case 'n': return '\n';
    case 't': return '\t';
    case '\t': return '\t';
    case 'r': return '\r';
    case '0': return 0;
    case 'a': return 7;
    case 'b': return 8;
    case 'v': return 11;
    case 'f': return 12;
    case 'e': return 27;
    default: return (Py_UCS4)-1;
    }
}

/* scan._escaped: the double-quoted scalar at p that holds a backslash */
static int escaped(Sc *s, const Line *ln, Py_ssize_t p, PyObject **value, Py_ssize_t *after)
{
    Py_ssize_t L = ln->len, n = 0, k = p + 1;
    Py_UCS4 *buf = PyMem_Malloc(sizeof(Py_UCS4) * (size_t)(L - p));
    if (buf == NULL) {
        PyErr_NoMemory();
        return ERROR;
    }
    while (k < L) {
        Py_UCS4 c = AT(s, ln, k);
        if (c == '"') {
            *value = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, buf, n);
            PyMem_Free(buf);
            if (*value == NULL)
                return ERROR;
            *after = k + 1;
            return OK;
        }
        if (c == '\\') {
            Py_UCS4 d = k + 1 < L ? escape_of(AT(s, ln, k + 1)) : (Py_UCS4)-1;
            if (d == (Py_UCS4)-1)
                break; /* the end of the line, or an escape left to libyaml */
            buf[n++] = d;
            k += 2;
            continue;
        }
        buf[n++] = c;
        k++;
    }
    PyMem_Free(buf);
    return FALLBACK;
}

/* scan._quoted: the text of a one-line quoted scalar, *after past its closing quote */
static int quoted(Sc *s, const Line *ln, Py_ssize_t p, PyObject **value, Py_ssize_t *after)
{
    Py_ssize_t L = ln->len, close = -1;
    Py_UCS4 q = AT(s, ln, p);
    for (Py_ssize_t k = p + 1; k < L; k++)
        if (AT(s, ln, k) == q) {
            close = k;
            break;
        }
    if (close < 0)
        return FALLBACK;
    if (q == '"')
        for (Py_ssize_t k = p + 1; k < close; k++)
            if (AT(s, ln, k) == '\\')
                return escaped(s, ln, p, value, after);
    if (q == '\'' && close + 1 < L && AT(s, ln, close + 1) == '\'')
        return FALLBACK;
    *value = sub(s, ln, p + 1, close);
    if (*value == NULL)
        return ERROR;
    *after = close + 1;
    return OK;
}

/* scan._end_of_line */
static int end_of_line(Sc *s, const Line *ln, Py_ssize_t p)
{
    Py_ssize_t L = ln->len, k = p;
    while (k < L && AT(s, ln, k) == ' ')
        k++;
    if (k == L)
        return OK;
    if (AT(s, ln, p) == ' ' && AT(s, ln, k) == '#')
        return OK;
    return FALLBACK;
}

/* scan._skip: IndexError (FALLBACK) at the end of the line */
static int skip(Sc *s, const Line *ln, Py_ssize_t *p)
{
    while (*p < ln->len && AT(s, ln, *p) == ' ')
        (*p)++;
    return *p < ln->len ? OK : FALLBACK;
}

/* ---- collections ------------------------------------------------------------------ */

/* Past a value that ends on its line i: the next line, which may not go deeper than
 * the collection's column (a plain scalar continued there, or more under a one-line
 * value: FALLBACK) */
static int next_line(Sc *s, Py_ssize_t *i, Py_ssize_t end, Py_ssize_t col)
{
    *i += 1;
    return *i < end && s->lines[*i].indent > col ? FALLBACK : OK;
}

/* Whether the collection at column col goes on at line i: 1 (a line at its column),
 * 0 (the end, or a line less indented: it ended), FALLBACK (a line deeper) */
static int goes_on(Sc *s, Py_ssize_t i, Py_ssize_t end, Py_ssize_t col)
{
    if (i >= end || s->lines[i].indent < col)
        return 0;
    return s->lines[i].indent > col ? FALLBACK : 1;
}

static int mapping(Sc *s, Py_ssize_t i, Py_ssize_t col, Py_ssize_t end, int depth,
                   PyObject **out_value, Py_ssize_t *out_i);
static int sequence(Sc *s, Py_ssize_t i, Py_ssize_t col, Py_ssize_t end, int depth,
                    Py_ssize_t parent_col, PyObject **out_value, Py_ssize_t *out_i);
static int flow(Sc *s, const Line *ln, Py_ssize_t p, int depth, PyObject **out_value,
                Py_ssize_t *out_p);

/* scan._simple_list: the words of a matched simple list, their positions written */
static int simple_list(Sc *s, const Line *ln, Py_ssize_t p, PyObject **out_value)
{
    PyObject *values = PyList_New(0);
    Py_ssize_t at, q = p + 1;
    if (values == NULL || open_list(s, &at) < 0)
        goto error;
    for (;;) {
        Py_ssize_t a = q;
        for (q++; q < ln->len && is_word_char(AT(s, ln, q)); q++)
            ;
        PyObject *v = plain_word(s, ln, a, q);
        if (v == NULL)
            goto error;
        int r = PyList_Append(values, v);
        Py_DECREF(v);
        if (r < 0 || put_pos(s, ln->number, a + 1) < 0)
            goto error;
        if (q >= ln->len || AT(s, ln, q) != ',')
            break; /* the ']' (match_simple_list checked the shape) */
        q += 2;
    }
    close_list(s, at, PyList_GET_SIZE(values));
    *out_value = values;
    return OK;
error:
    Py_XDECREF(values);
    return ERROR;
}

/* the value at ln[p] opens a flow collection (a child in the positions) */
static int opens_flow(Sc *s, const Line *ln, Py_ssize_t p)
{
    if (p >= ln->len)
        return 0;
    Py_UCS4 c = AT(s, ln, p);
    return c == '[' || c == '{';
}

/* scan._Scanner.inline: the value starting at ln[p]; a flow collection writes its
 * positions (the caller wrote the pair's head and packed position before) */
static int inline_value(Sc *s, const Line *ln, Py_ssize_t p, int depth, PyObject **value,
                        Py_ssize_t *after)
{
    Py_ssize_t L = ln->len;
    if (p >= L)
        return FALLBACK;
    Py_UCS4 c = AT(s, ln, p);
    if (c == '[' || c == '{')
        return flow(s, ln, p, depth, value, after);
    if (c == '\'' || c == '"')
        return quoted(s, ln, p, value, after);
    if (is_indicator(c) && !(c == '-' && p + 1 < L && AT(s, ln, p + 1) != ' '))
        return FALLBACK; /* an anchor, an alias, a tag, a block scalar... */
    Py_ssize_t tend = L;
    for (Py_ssize_t k = p; k + 1 < L; k++)
        if (AT(s, ln, k) == ' ' && AT(s, ln, k + 1) == '#') {
            tend = k;
            break;
        }
    while (tend > p && AT(s, ln, tend - 1) == ' ')
        tend--;
    if (tend > p && AT(s, ln, tend - 1) == ':')
        return FALLBACK;
    for (Py_ssize_t k = p; k + 1 < tend; k++)
        if (AT(s, ln, k) == ':' && AT(s, ln, k + 1) == ' ')
            return FALLBACK;
    *value = resolved(s, ln, p, tend);
    if (*value == NULL)
        return ERROR;
    *after = tend;
    return OK;
}

/* A mapping's key ln[a:b], interned into *key (the caller releases it), refused when
 * ``data`` has it already (a duplicate key: SNV104 from the libyaml path), and written
 * to the positions */
static int new_key(Sc *s, const Line *ln, Py_ssize_t a, Py_ssize_t b, PyObject *data,
                   PyObject **key)
{
    if ((*key = interned(s, ln, a, b)) == NULL)
        return ERROR;
    int has = PyDict_Contains(data, *key);
    if (has != 0)
        return has < 0 ? ERROR : FALLBACK;
    return put_key(s, ln, a, b);
}

/* A value on the rest of its line (inline, then _end_of_line), and the next line
 * (next_line); the caller releases *value when this fails */
static int line_value(Sc *s, const Line *ln, Py_ssize_t p, int depth, PyObject **value,
                      Py_ssize_t *i, Py_ssize_t end, Py_ssize_t col)
{
    Py_ssize_t after;
    int r = inline_value(s, ln, p, depth, value, &after);
    if (r == OK)
        r = end_of_line(s, ln, after);
    return r == OK ? next_line(s, i, end, col) : r;
}

static int flow(Sc *s, const Line *ln, Py_ssize_t p, int depth, PyObject **out_value,
                Py_ssize_t *out_p)
{
    if (depth > s->max_depth)
        return FALLBACK;
    Py_ssize_t L = ln->len, list_at = 0, count = 0;
    Py_UCS4 closing = AT(s, ln, p) == '[' ? ']' : '}';
    int is_map = closing == '}';
    PyObject *data = is_map ? PyDict_New() : PyList_New(0);
    PyObject *key = NULL, *value = NULL;
    int r = ERROR;
    if (data == NULL || (is_map ? put(s, "{", 1) : open_list(s, &list_at)) < 0)
        goto done;
    p += 1;
    if ((r = skip(s, ln, &p)) != OK)
        goto done;
    if (AT(s, ln, p) == closing) {
        *out_p = p + 1;
        r = OK;
        goto done;
    }
    for (;;) {
        Py_ssize_t kend, mend;
        if (is_map) {
            r = FALLBACK;
            if (!match_key(s, ln, p, &kend, &mend) || mend == L)
                goto done;
            if ((r = new_key(s, ln, p, kend, data, &key)) != OK)
                goto done;
            r = ERROR;
            Py_ssize_t kp = p;
            p = mend;
            if (opens_flow(s, ln, p) && put_pair(s) < 0)
                goto done;
            if (put_pos4(s, ln->number, kp + 1, ln->number, p + 1) < 0)
                goto done;
        }
        else {
            r = ERROR;
            if (opens_flow(s, ln, p) && put_pair(s) < 0)
                goto done;
            if (put_pos(s, ln->number, p + 1) < 0)
                goto done;
        }
        Py_UCS4 c = AT(s, ln, p);
        if (c == '[' || c == '{') {
            if ((r = flow(s, ln, p, depth + 1, &value, &p)) != OK)
                goto done;
        }
        else if (c == '\'' || c == '"') {
            if ((r = quoted(s, ln, p, &value, &p)) != OK)
                goto done;
        }
        else {
            r = FALLBACK;
            if (is_indicator(c) && !(c == '-' && p + 1 < L && !one_of(AT(s, ln, p + 1), " ,[]{}")))
                goto done;
            Py_ssize_t m = -1;
            for (Py_ssize_t k = p; k < L; k++)
                if (one_of(AT(s, ln, k), ",[]{}")) {
                    m = k;
                    break;
                }
            if (m < 0)
                goto done;
            Py_ssize_t tend = m;
            while (tend > p && AT(s, ln, tend - 1) == ' ')
                tend--;
            if (tend == p)
                goto done;
            for (Py_ssize_t k = p; k < tend; k++) {
                Py_UCS4 t = AT(s, ln, k);
                if (t == ':' || t == '#')
                    goto done;
            }
            r = ERROR;
            if ((value = resolved(s, ln, p, tend)) == NULL)
                goto done;
            p = tend;
        }
        r = ERROR;
        if (is_map) {
            if (PyDict_SetItem(data, key, value) < 0)
                goto done;
            Py_CLEAR(key);
        }
        else {
            if (PyList_Append(data, value) < 0)
                goto done;
            count++;
        }
        Py_CLEAR(value);
        if ((r = skip(s, ln, &p)) != OK)
            goto done;
        c = AT(s, ln, p);
        if (c == ',') {
            p += 1;
            if ((r = skip(s, ln, &p)) != OK)
                goto done;
            r = FALLBACK;
            c = AT(s, ln, p);
            if (c == ']' || c == '}')
                goto done; /* a trailing comma */
            continue;
        }
        r = FALLBACK;
        if (c == closing) {
            *out_p = p + 1;
            r = OK;
        }
        goto done;
    }
done:
    Py_XDECREF(key);
    Py_XDECREF(value);
    if (r == OK) {
        if (is_map)
            r = put(s, "0", 1);
        else
            close_list(s, list_at, count);
    }
    if (r == OK)
        *out_value = data;
    else
        Py_XDECREF(data);
    return r;
}

static int mapping(Sc *s, Py_ssize_t i, Py_ssize_t col, Py_ssize_t end, int depth,
                   PyObject **out_value, Py_ssize_t *out_i)
{
    if (depth > s->max_depth)
        return FALLBACK;
    PyObject *data = PyDict_New();
    PyObject *key = NULL, *value = NULL;
    int r = ERROR;
    if (data == NULL || put(s, "{", 1) < 0)
        goto done;
    const Line *ln = &s->lines[i];
    for (;;) {
        Py_ssize_t kend, mend, vend, L = ln->len, number = ln->number;
        r = FALLBACK;
        if (!match_key(s, ln, col, &kend, &mend))
            goto done;
        if ((r = new_key(s, ln, col, kend, data, &key)) != OK)
            goto done;
        r = ERROR;
        if (mend > kend + 1 && match_simple(s, ln, mend, &vend)) {
            /* the common case, `key: plain words`, as _KEY_SIMPLE */
            if ((value = plain_word(s, ln, mend, vend)) == NULL)
                goto done;
            if (put_pos4(s, number, col + 1, number, mend + 1) < 0)
                goto done;
            i += 1; /* (a line deeper next: goes_on below steps aside) */
        }
        else if (match_simple_list(s, ln, mend)) {
            if (put_pair(s) < 0 || put_pos4(s, number, col + 1, number, mend + 1) < 0)
                goto done;
            if ((r = simple_list(s, ln, mend, &value)) != OK)
                goto done;
            if ((r = next_line(s, &i, end, col)) != OK)
                goto done;
        }
        else if (mend == L || AT(s, ln, mend) == '#') {
            /* a nested collection on the next lines, or a null */
            Py_ssize_t nxt = i + 1;
            const Line *nl = nxt < end ? &s->lines[nxt] : NULL;
            if (nl != NULL && (nl->indent > col || (nl->indent == col && is_entry(s, nl, col)))) {
                Py_ssize_t k1, k2;
                int entry = is_entry(s, nl, nl->indent);
                r = FALLBACK; /* unless a list or a mapping: a scalar below its key */
                if (!entry && !match_key(s, nl, nl->indent, &k1, &k2))
                    goto done;
                r = ERROR;
                if (put_pair(s) < 0 || put_pos4(s, number, col + 1, nl->number, nl->indent + 1) < 0)
                    goto done;
                if (entry)
                    r = sequence(s, nxt, nl->indent, end, depth + 1, col, &value, &i);
                else
                    r = mapping(s, nxt, nl->indent, end, depth + 1, &value, &i);
                if (r != OK)
                    goto done;
            }
            else {
                value = Py_NewRef(Py_None);
                if (put_pos4(s, number, col + 1, number, kend + 2) < 0) /* just past the ':' */
                    goto done;
                i = nxt;
            }
        }
        else {
            if (opens_flow(s, ln, mend) && put_pair(s) < 0)
                goto done;
            if (put_pos4(s, number, col + 1, number, mend + 1) < 0)
                goto done;
            if ((r = line_value(s, ln, mend, depth + 1, &value, &i, end, col)) != OK)
                goto done;
        }
        r = ERROR;
        if (PyDict_SetItem(data, key, value) < 0)
            goto done;
        Py_CLEAR(key);
        Py_CLEAR(value);
        if ((r = goes_on(s, i, end, col)) == 0)
            break;
        if (r < 0)
            goto done;
        ln = &s->lines[i];
        if (AT(s, ln, col) == '-')
            break; /* the end of an indentless list's item mapping, or no key */
    }
    if (put(s, "0", 1) < 0) {
        r = ERROR;
        goto done;
    }
    *out_value = data;
    *out_i = i;
    return OK;
done:
    Py_XDECREF(key);
    Py_XDECREF(value);
    Py_XDECREF(data);
    return r;
}

static int sequence(Sc *s, Py_ssize_t i, Py_ssize_t col, Py_ssize_t end, int depth,
                    Py_ssize_t parent_col, PyObject **out_value, Py_ssize_t *out_i)
{
    if (depth > s->max_depth)
        return FALLBACK;
    PyObject *items = PyList_New(0);
    PyObject *value = NULL;
    Py_ssize_t list_at;
    int r = ERROR;
    if (items == NULL || open_list(s, &list_at) < 0)
        goto done;
    const Line *ln = &s->lines[i];
    for (;;) {
        Py_ssize_t L = ln->len, number = ln->number, icol = col + 1, vend, k1, k2;
        /* ln[col] is '-', followed by a space (is_entry) */
        while (icol < L && AT(s, ln, icol) == ' ')
            icol++;
        r = FALLBACK;
        if (icol >= L || AT(s, ln, icol) == '#')
            goto done; /* `-` alone: a null item or an item on the next lines */
        if (AT(s, ln, icol) == '-' && (icol + 1 == L || AT(s, ln, icol + 1) == ' '))
            goto done; /* a list in a list written on one line */
        r = ERROR;
        if (match_simple(s, ln, icol, &vend)) {
            if (put_pos(s, number, icol + 1) < 0)
                goto done;
            if ((value = plain_word(s, ln, icol, vend)) == NULL)
                goto done;
            if ((r = next_line(s, &i, end, col)) != OK)
                goto done;
        }
        else if (match_key(s, ln, icol, &k1, &k2)) {
            if (put_pair(s) < 0 || put_pos(s, number, icol + 1) < 0)
                goto done;
            if ((r = mapping(s, i, icol, end, depth + 1, &value, &i)) != OK)
                goto done;
        }
        else {
            if (opens_flow(s, ln, icol) && put_pair(s) < 0)
                goto done;
            if (put_pos(s, number, icol + 1) < 0)
                goto done;
            if ((r = line_value(s, ln, icol, depth + 1, &value, &i, end, col)) != OK)
                goto done;
        }
        r = ERROR;
        if (PyList_Append(items, value) < 0)
            goto done;
        Py_CLEAR(value);
        if ((r = goes_on(s, i, end, col)) == 0)
            break;
        if (r < 0)
            goto done;
        ln = &s->lines[i];
        r = FALLBACK;
        if (!is_entry(s, ln, ln->indent)) {
            if (col == parent_col)
                break; /* an indentless list ends at its parent's next key */
            goto done;
        }
    }
    close_list(s, list_at, PyList_GET_SIZE(items));
    *out_value = items;
    *out_i = i;
    return OK;
done:
    Py_XDECREF(value);
    Py_XDECREF(items);
    return r;
}

/* ---- the file ------------------------------------------------------------------- */

/* scan._unusual(): a character the subset leaves to libyaml (\r, a tab, a control
 * character, U+2028/U+2029, a BOM, a surrogate, a noncharacter...) */
static int unusual(Py_UCS4 c)
{
    if (c < 0x7f)
        return c < 0x20 && c != '\n';
    return !((c >= 0xa0 && c <= 0x2027) || (c >= 0x202a && c <= 0xd7ff) ||
             (c >= 0xe000 && c <= 0xfefe) || (c >= 0xff00 && c <= 0xfffd) ||
             (c >= 0x10000 && c <= 0x10ffff));
}

/* _Scanner.__init__: the content lines and each document's first one (after scan.scan's
 * test of unusual characters) */
static int split_lines(Sc *s, Py_ssize_t **out_starts, Py_ssize_t *out_ndocs)
{
    Py_ssize_t size = PyUnicode_GET_LENGTH(s->text), nl = 1;
    for (Py_ssize_t k = 0; k < size; k++) {
        Py_UCS4 c = PyUnicode_READ(s->kind, s->data, k);
        if (c == '\n')
            nl++;
        else if (unusual(c))
            return FALLBACK;
    }
    s->lines = PyMem_New(Line, nl);
    Py_ssize_t *starts = PyMem_New(Py_ssize_t, nl);
    if (s->lines == NULL || starts == NULL) {
        PyMem_Free(starts);
        PyErr_NoMemory();
        return ERROR;
    }
    *out_starts = starts;
    Py_ssize_t n = 0, ndocs = 0, number = 0, a = 0;
    int opened = 0;
    while (a <= size) {
        Py_ssize_t b = a;
        while (b < size && PyUnicode_READ(s->kind, s->data, b) != '\n')
            b++;
        Line line = {++number, 0, a, b - a};
        while (line.indent < line.len && AT(s, &line, line.indent) == ' ')
            line.indent++;
        a = b + 1;
        if (line.indent == line.len || AT(s, &line, line.indent) == '#')
            continue;
        if (line.len >= 3) {
            Py_UCS4 c0 = AT(s, &line, 0), c1 = AT(s, &line, 1), c2 = AT(s, &line, 2);
            if ((c0 == '-' && c1 == '-' && c2 == '-') || (c0 == '.' && c1 == '.' && c2 == '.')) {
                Py_ssize_t e = line.len;
                while (e > 0 && AT(s, &line, e - 1) == ' ')
                    e--;
                if (c0 != '-' || e != 3 || opened)
                    return FALLBACK; /* `--- value`, `...`, or an empty document (SNV105) */
                opened = 1;
                continue;
            }
        }
        if (opened || ndocs == 0) {
            starts[ndocs++] = n;
            opened = 0;
        }
        s->lines[n++] = line;
    }
    if (opened || ndocs == 0)
        return FALLBACK; /* a trailing empty document, or none at all (SNV110) */
    s->n = n;
    *out_ndocs = ndocs;
    return OK;
}

static PyObject *documents(Sc *s, Py_ssize_t *starts, Py_ssize_t ndocs, int *r)
{
    PyObject *out = PyList_New(0);
    if (out == NULL) {
        *r = ERROR;
        return NULL;
    }
    for (Py_ssize_t d = 0; d < ndocs; d++) {
        Py_ssize_t first = starts[d], end = d + 1 < ndocs ? starts[d + 1] : s->n, nxt, k1, k2;
        const Line *ln = &s->lines[first];
        PyObject *value, *pos;
        *r = FALLBACK;
        if (ln->indent != 0 || !match_key(s, ln, 0, &k1, &k2))
            goto fail; /* a document that is not a block mapping */
        s->used = 0;
        if ((*r = mapping(s, first, 0, end, 0, &value, &nxt)) != OK)
            goto fail;
        if (nxt != end) {
            Py_DECREF(value);
            *r = FALLBACK;
            goto fail;
        }
        if ((pos = PyBytes_FromStringAndSize(s->out, s->used)) == NULL) {
            Py_DECREF(value);
            *r = ERROR;
            goto fail;
        }
        PyObject *doc = Py_BuildValue("(niNN)", ln->number, 1, value, pos);
        if (doc == NULL || PyList_Append(out, doc) < 0) {
            Py_XDECREF(doc);
            *r = ERROR;
            goto fail;
        }
        Py_DECREF(doc);
    }
    *r = OK;
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

static PyObject *scan(PyObject *self, PyObject *args)
{
    (void)self;
    Sc s = {0};
    if (!PyArg_ParseTuple(args, "UOi:scan", &s.text, &s.resolve, &s.max_depth))
        return NULL;
    s.kind = PyUnicode_KIND(s.text);
    s.data = PyUnicode_DATA(s.text);
    Py_ssize_t *starts = NULL, ndocs = 0;
    PyObject *out = NULL;
    int r = split_lines(&s, &starts, &ndocs);
    if (r == OK)
        out = documents(&s, starts, ndocs, &r);
    PyMem_Free(s.lines);
    PyMem_Free(starts);
    PyMem_Free(s.out);
    if (r == OK)
        return out;
    if (r == ERROR) {
        /* a scalar Python cannot convert (SNV114) is reported, at its position, by libyaml */
        if (!PyErr_ExceptionMatches(PyExc_ValueError) && !PyErr_ExceptionMatches(PyExc_OverflowError))
            return NULL;
        PyErr_Clear();
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS,
     "scan(text, resolve_plain, max_depth): scan.scan's documents of text, or None."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_scan", "The line scanner of snavc.engine.scan, in C.", -1, methods,
    NULL, NULL, NULL, NULL,
};

/* what scan.py expects of this module: a module built from an older _scan.c (an
 * editable install not built again after a pull) is not used */
#define ABI 5

PyMODINIT_FUNC PyInit__scan(void)
{
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && PyModule_AddIntConstant(m, "ABI", ABI) < 0)
        Py_CLEAR(m);
    return m;
}
