/* Strict JSON (RFC 8259) in UTF-8 bytes to Python objects, as json.loads builds them.
 *
 * Only input that json.loads and orjson.loads read alike is decoded here. Anything else
 * raises ValueError and is left to the session's unpacker, which decides (and words any
 * error) exactly as it does without this decoder: NaN and Infinity, integers of more than
 * 18 digits, floats that overflow or are written in more than 63 characters, lone
 * surrogates, invalid UTF-8, nesting deeper than JSS_JSON_MAX_DEPTH, and every syntax
 * error. The input is read as hostile: every read is bounds-checked, nothing is kept
 * between calls, and recursion is bounded by JSS_JSON_MAX_DEPTH.
 *
 * Where the time goes for large strings: finding the end of a run of plain characters,
 * 16 bytes a step with SSE2 (8 with a portable word trick elsewhere), then one copy into
 * the new str (ASCII) or CPython's UTF-8 decoder (which also validates).
 */
#ifndef JSESSION_JSON_DECODE_H
#define JSESSION_JSON_DECODE_H

#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#if (defined(__SSE2__) || defined(_M_X64) || defined(_M_AMD64)) && !defined(JSS_JSON_PORTABLE)
#include <emmintrin.h>
#define JSS_JSON_SSE2 1
#endif

/* Deeper input goes to the unpacker; also bounds this decoder's C recursion. */
#define JSS_JSON_MAX_DEPTH 256

/* Items of the arrays and objects being read, innermost last: a container is made once
 * its size is known (a dict presized, a list of its length), not grown item by item. */
#define JSS_JSON_INLINE_ITEMS 64

typedef struct {
    const unsigned char *p;   /* next byte to read */
    const unsigned char *end; /* one past the last byte */
    char *scratch;            /* unescaped string bytes, as long as the input; made on first use */
    Py_ssize_t size;          /* the input's length */
    int depth;
    PyObject **items;         /* the pending items (owned references): inline or on the heap */
    Py_ssize_t top, capacity;
    PyObject *inline_items[JSS_JSON_INLINE_ITEMS];
} jss_json;

static int jss_json_push(jss_json *js, PyObject *item)
{
    if (js->top == js->capacity) {
        Py_ssize_t capacity = js->capacity * 2;
        PyObject **items;
        if (js->items == js->inline_items) {
            items = PyMem_New(PyObject *, (size_t)capacity);
            if (items != NULL)
                memcpy(items, js->inline_items, sizeof(js->inline_items));
        }
        else {
            items = js->items;
            PyMem_Resize(items, PyObject *, (size_t)capacity);
        }
        if (items == NULL) {
            Py_DECREF(item);
            PyErr_NoMemory();
            return -1;
        }
        js->items = items;
        js->capacity = capacity;
    }
    js->items[js->top++] = item;
    return 0;
}

/* Drops the pending items above base (on an error). */
static void jss_json_drop(jss_json *js, Py_ssize_t base)
{
    while (js->top > base)
        Py_DECREF(js->items[--js->top]);
}

static PyObject *jss_json_value(jss_json *js);

/* Not decoded here: the caller hands the input to the unpacker. */
static PyObject *jss_json_refuse(void)
{
    PyErr_SetString(PyExc_ValueError, "JSON left to the unpacker");
    return NULL;
}

static inline void jss_json_skip_space(jss_json *js)
{
    const unsigned char *p = js->p, *end = js->end;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    js->p = p;
}

static inline int jss_json_ctz(unsigned int mask)
{
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_ctz(mask);
#else
    int k = 0;
    while (!(mask & 1u)) {
        mask >>= 1;
        k++;
    }
    return k;
#endif
}

/* The first byte at or after p that ends a run of plain string characters: '"', '\\' or
 * a control character (below 0x20), or end. *high is set if the run has a byte >= 0x80. */
static inline const unsigned char *jss_json_scan(const unsigned char *p, const unsigned char *end, int *high)
{
#ifdef JSS_JSON_SSE2
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), control = _mm_set1_epi8(0x1f);
    int seen = 0;
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)p);
        __m128i stop = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                                    _mm_cmpeq_epi8(_mm_min_epu8(v, control), v));
        unsigned int mask = (unsigned int)_mm_movemask_epi8(stop);
        if (mask) {
            int k = jss_json_ctz(mask);
            seen |= _mm_movemask_epi8(v) & ((1 << k) - 1);
            if (seen)
                *high = 1;
            return p + k;
        }
        seen |= _mm_movemask_epi8(v);
        p += 16;
    }
    if (seen)
        *high = 1;
#else
    /* a word at a time while no byte in it can stop the run (no false negatives) */
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t seen = 0;
    while (end - p >= 8) {
        uint64_t w, q, b;
        memcpy(&w, p, 8);
        q = w ^ (ones * '"');
        b = w ^ (ones * '\\');
        if (((q - ones) & ~q & highs) | ((b - ones) & ~b & highs) | ((w - ones * 0x20) & ~w & highs))
            break;
        seen |= w & highs;
        p += 8;
    }
    if (seen)
        *high = 1;
#endif
    for (; p < end; p++) {
        unsigned char c = *p;
        if (c == '"' || c == '\\' || c < 0x20)
            break;
        if (c >= 0x80)
            *high = 1;
    }
    return p;
}

static PyObject *jss_json_str(const char *s, Py_ssize_t n, int high)
{
    PyObject *str;
    if (high) /* strict: invalid UTF-8 (and encoded surrogates) go to the unpacker */
        return PyUnicode_DecodeUTF8(s, n, NULL);
    str = PyUnicode_New(n, 127);
    if (str != NULL)
        memcpy(PyUnicode_1BYTE_DATA(str), s, (size_t)n);
    return str;
}

static int jss_json_hex4(const unsigned char *p, unsigned int *out)
{
    unsigned int v = 0;
    int i;
    for (i = 0; i < 4; i++) {
        unsigned char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned int)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned int)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned int)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* A string with escapes, from its first '\\' at q (start: just past its opening quote). */
static PyObject *jss_json_escaped(jss_json *js, const unsigned char *start, const unsigned char *q, int high)
{
    const unsigned char *p = q, *end = js->end;
    Py_ssize_t k;
    char *out;
    if (js->scratch == NULL) {
        /* unescaping never lengthens: an escape of n bytes gives at most n bytes of UTF-8 */
        js->scratch = (char *)PyMem_Malloc((size_t)js->size + 1);
        if (js->scratch == NULL)
            return PyErr_NoMemory();
    }
    out = js->scratch;
    k = q - start;
    memcpy(out, start, (size_t)k);
    for (;;) {
        unsigned char c;
        const unsigned char *run;
        if (p >= end || *p < 0x20)
            return jss_json_refuse(); /* unterminated, or a raw control character */
        if (*p == '"')
            break;
        /* *p == '\\' */
        if (end - p < 2)
            return jss_json_refuse();
        c = p[1];
        p += 2;
        switch (c) {
        case '"': out[k++] = '"'; break;
        case '\\': out[k++] = '\\'; break;
        case '/': out[k++] = '/'; break;
        case 'b': out[k++] = '\b'; break;
        case 'f': out[k++] = '\f'; break;
        case 'n': out[k++] = '\n'; break;
        case 'r': out[k++] = '\r'; break;
        case 't': out[k++] = '\t'; break;
        case 'u': {
            unsigned int cp, low;
            if (end - p < 4 || jss_json_hex4(p, &cp) < 0)
                return jss_json_refuse();
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                /* a pair, or a lone high surrogate (json.loads keeps it; left to it) */
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || jss_json_hex4(p + 2, &low) < 0
                    || low < 0xDC00 || low > 0xDFFF)
                    return jss_json_refuse();
                p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            }
            else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return jss_json_refuse();
            }
            if (cp < 0x80) {
                out[k++] = (char)cp;
            }
            else {
                high = 1;
                if (cp < 0x800) {
                    out[k++] = (char)(0xC0 | (cp >> 6));
                }
                else if (cp < 0x10000) {
                    out[k++] = (char)(0xE0 | (cp >> 12));
                    out[k++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                }
                else {
                    out[k++] = (char)(0xF0 | (cp >> 18));
                    out[k++] = (char)(0x80 | ((cp >> 12) & 0x3F));
                    out[k++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                }
                out[k++] = (char)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default:
            return jss_json_refuse();
        }
        run = jss_json_scan(p, end, &high);
        memcpy(out + k, p, (size_t)(run - p));
        k += run - p;
        p = run;
    }
    js->p = p + 1;
    return jss_json_str(out, k, high);
}

#ifndef Py_GIL_DISABLED
/* Object keys recur from message to message ("msg_id", "status", "data"): short plain
 * ones are made once and reused, hash included, from a small table indexed by a hash of
 * their bytes. It is shared by every call, which the GIL serialises (nothing in a lookup
 * or an insertion can release it: str objects run no code when freed); free-threaded
 * builds go without it. */
#define JSS_JSON_KEYS 512
#define JSS_JSON_KEY_MAX 24
static PyObject *jss_json_keys[JSS_JSON_KEYS];

static PyObject *jss_json_key(const unsigned char *s, Py_ssize_t n, const unsigned char *end)
{
    /* the slot: a multiply-mix of the first and last eight bytes and the length */
    uint64_t a = 0, b, h;
    PyObject **slot, *key;
    if (n >= 8) {
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
    }
    else {
        if (end - s >= 8 && n > 0) {
            /* one load and a mask (a copy of n bytes would stall the load after it) */
            memcpy(&a, s, 8);
#if PY_LITTLE_ENDIAN
            a &= ~0ULL >> (8 * (8 - n));
#else
            a &= ~0ULL << (8 * (8 - n));
#endif
        }
        else {
            unsigned char tail[8] = {0}; /* the same value as the masked load */
            memcpy(tail, s, (size_t)n);
            memcpy(&a, tail, 8);
        }
        b = a;
    }
    h = a * 0x9E3779B97F4A7C15ULL + b * 0xC2B2AE3D27D4EB4FULL + (uint64_t)n;
    slot = &jss_json_keys[(h >> 40) & (JSS_JSON_KEYS - 1)];
    key = *slot;
    if (key != NULL && PyUnicode_GET_LENGTH(key) == n && memcmp(PyUnicode_1BYTE_DATA(key), s, (size_t)n) == 0) {
        Py_INCREF(key);
        return key;
    }
    key = jss_json_str((const char *)s, n, 0);
    if (key == NULL)
        return NULL;
    if (PyObject_Hash(key) == -1) { /* computed once, kept in the str */
        Py_DECREF(key);
        return NULL;
    }
    Py_INCREF(key);
    Py_XSETREF(*slot, key);
    return key;
}
#endif


/* A string; js->p is just past its opening quote. Short plain keys come from the table. */
static PyObject *jss_json_string_as(jss_json *js, int is_key)
{
    const unsigned char *start = js->p;
    int high = 0;
    const unsigned char *q = jss_json_scan(start, js->end, &high);
    if (q < js->end && *q == '"') {
        js->p = q + 1;
#ifndef Py_GIL_DISABLED
        if (is_key && !high && q - start <= JSS_JSON_KEY_MAX)
            return jss_json_key(start, q - start, js->end);
#endif
        return jss_json_str((const char *)start, q - start, high);
    }
    if (q < js->end && *q == '\\')
        return jss_json_escaped(js, start, q, high);
    return jss_json_refuse();
}

#define jss_json_string(js) jss_json_string_as((js), 0)
#define jss_json_object_key(js) jss_json_string_as((js), 1)

static inline int jss_json_digit(const unsigned char *p, const unsigned char *end)
{
    return p < end && *p >= '0' && *p <= '9';
}

/* Just past a run of one or more digits at p, or NULL if p is not at a digit. */
static inline const unsigned char *jss_json_digits(const unsigned char *p, const unsigned char *end)
{
    if (!jss_json_digit(p, end))
        return NULL;
    while (jss_json_digit(p, end))
        p++;
    return p;
}

static PyObject *jss_json_number(jss_json *js)
{
    const unsigned char *start = js->p, *p = start, *end = js->end, *int_end;
    int negative = 0, is_float = 0;
    if (p < end && *p == '-') {
        negative = 1;
        p++;
    }
    if (p < end && *p == '0')
        p++;
    else if (jss_json_digit(p, end))
        while (jss_json_digit(p, end))
            p++;
    else
        return jss_json_refuse(); /* "-Infinity", a lone "-" */
    int_end = p;
    if (p < end && *p == '.') {
        if ((p = jss_json_digits(p + 1, end)) == NULL)
            return jss_json_refuse();
        is_float = 1;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if ((p = jss_json_digits(p, end)) == NULL)
            return jss_json_refuse();
        is_float = 1;
    }
    js->p = p;
    if (!is_float) {
        const unsigned char *d = start + negative;
        long long v = 0;
        if (int_end - d > 18) /* at most 18 digits cannot overflow */
            return jss_json_refuse();
        for (; d < int_end; d++)
            v = v * 10 + (*d - '0');
        return PyLong_FromLongLong(negative ? -v : v);
    }
    else {
        /* the conversion float() uses, as json.loads does: the same double */
        char text[64];
        char *parsed;
        double value;
        Py_ssize_t n = p - start;
        if (n >= (Py_ssize_t)sizeof(text))
            return jss_json_refuse();
        memcpy(text, start, (size_t)n);
        text[n] = '\0';
        value = PyOS_string_to_double(text, &parsed, NULL);
        if (value == -1.0 && PyErr_Occurred())
            return NULL;
        if (parsed != text + n || !isfinite(value))
            return jss_json_refuse(); /* overflow: json.loads gives inf, orjson refuses */
        return PyFloat_FromDouble(value);
    }
}

/* The byte after optional whitespace is c: consumed, 1; else 0. */
static inline int jss_json_take(jss_json *js, unsigned char c)
{
    jss_json_skip_space(js);
    if (js->p < js->end && *js->p == c) {
        js->p++;
        return 1;
    }
    return 0;
}

/* As jss_json_take, but its absence refuses the input: 0, or -1 refused. */
static inline int jss_json_expect(jss_json *js, unsigned char c)
{
    if (jss_json_take(js, c))
        return 0;
    jss_json_refuse();
    return -1;
}

/* After an item of a container closed by close: 1 after a comma (another item follows),
 * 0 after close (the container ends), -1 refused. */
static inline int jss_json_next(jss_json *js, unsigned char close)
{
    if (jss_json_take(js, ','))
        return 1;
    if (js->p < js->end && *js->p == close) {
        js->p++;
        return 0;
    }
    jss_json_refuse();
    return -1;
}

static PyObject *jss_json_array(jss_json *js)
{
    Py_ssize_t base = js->top, i, n;
    PyObject *list, *item;
    int more;
    if (++js->depth > JSS_JSON_MAX_DEPTH)
        return jss_json_refuse();
    if (jss_json_take(js, ']')) {
        js->depth--;
        return PyList_New(0);
    }
    do {
        item = jss_json_value(js);
        if (item == NULL || jss_json_push(js, item) < 0)
            goto fail;
    } while ((more = jss_json_next(js, ']')) > 0);
    if (more < 0)
        goto fail;
    n = js->top - base;
    list = PyList_New(n);
    if (list == NULL)
        goto fail;
    for (i = 0; i < n; i++) /* the references move into the list */
        PyList_SET_ITEM(list, i, js->items[base + i]);
    js->top = base;
    js->depth--;
    return list;
fail:
    jss_json_drop(js, base);
    return NULL;
}

static PyObject *jss_json_object(jss_json *js)
{
    Py_ssize_t base = js->top, i, n;
    PyObject *dict, *key, *value;
    int more;
    if (++js->depth > JSS_JSON_MAX_DEPTH)
        return jss_json_refuse();
    if (jss_json_take(js, '}')) {
        js->depth--;
        return PyDict_New();
    }
    do { /* "key": value, each pushed as soon as it is made */
        if (jss_json_expect(js, '"') < 0 || (key = jss_json_object_key(js)) == NULL || jss_json_push(js, key) < 0
            || jss_json_expect(js, ':') < 0 || (value = jss_json_value(js)) == NULL || jss_json_push(js, value) < 0)
            goto fail;
    } while ((more = jss_json_next(js, '}')) > 0);
    if (more < 0)
        goto fail;
    n = (js->top - base) / 2;
    dict = _PyDict_NewPresized(n);
    if (dict == NULL)
        goto fail;
    for (i = 0; i < n; i++) {
        /* a repeated key: the last value, in the first one's place (as json.loads) */
        if (PyDict_SetItem(dict, js->items[base + 2 * i], js->items[base + 2 * i + 1]) < 0) {
            Py_DECREF(dict);
            goto fail;
        }
    }
    jss_json_drop(js, base);
    js->depth--;
    return dict;
fail:
    jss_json_drop(js, base);
    return NULL;
}

static inline int jss_json_word(jss_json *js, const char *word, Py_ssize_t n)
{
    if (js->end - js->p >= n && memcmp(js->p, word, (size_t)n) == 0) {
        js->p += n;
        return 1;
    }
    return 0;
}

static PyObject *jss_json_value(jss_json *js)
{
    jss_json_skip_space(js);
    if (js->p >= js->end)
        return jss_json_refuse();
    switch (*js->p) {
    case '"':
        js->p++;
        return jss_json_string(js);
    case '{':
        js->p++;
        return jss_json_object(js);
    case '[':
        js->p++;
        return jss_json_array(js);
    case 't':
        if (jss_json_word(js, "true", 4))
            Py_RETURN_TRUE;
        break;
    case 'f':
        if (jss_json_word(js, "false", 5))
            Py_RETURN_FALSE;
        break;
    case 'n':
        if (jss_json_word(js, "null", 4))
            Py_RETURN_NONE;
        break;
    default:
        if (*js->p == '-' || (*js->p >= '0' && *js->p <= '9'))
            return jss_json_number(js);
    }
    return jss_json_refuse();
}

/* The value of the whole input (whitespace around it allowed), or NULL with an exception. */
static PyObject *jss_json_decode(const char *data, Py_ssize_t size)
{
    jss_json js;
    PyObject *value;
    js.p = (const unsigned char *)data;
    js.end = js.p + size;
    js.scratch = NULL;
    js.size = size;
    js.depth = 0;
    js.items = js.inline_items;
    js.top = 0;
    js.capacity = JSS_JSON_INLINE_ITEMS;
    value = jss_json_value(&js);
    if (value != NULL) {
        jss_json_skip_space(&js);
        if (js.p != js.end) {
            Py_DECREF(value);
            value = jss_json_refuse();
        }
    }
    PyMem_Free(js.scratch);
    if (js.items != js.inline_items)
        PyMem_Free(js.items);
    return value;
}

#endif /* JSESSION_JSON_DECODE_H */
