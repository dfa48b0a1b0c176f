/* Template fingerprints in one pass over a prompt: the C twin of models/features.py's
 * ``_py_fingerprints`` (which defines the semantics; tests/test_features.py checks that the two
 * agree on arbitrary text). Tokenising a prompt word by word in Python costs more than the whole
 * rest of feature extraction; here it costs about a microsecond.
 *
 * fingerprints(text: str) -> (head, tail)
 *   text     lower-cased prompt (the caller lowers and truncates it)
 *   head     MinHash-style fingerprint of the first WINDOW content words (0 if too few)
 *   tail     the same for the last WINDOW content words (0 if the prompt has at most WINDOW)
 * set_stop_keys(keys: sequence of int): the keys of the stop words (never content words).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#define WINDOW 12
#define LONG_TEXT 1200 /* longer texts: only the first and last SLICE characters are read */
#define SLICE 400
#define KEY_SEED 0x5BD1E995u
#define NOT_CONTENT 0xFFFFFFFFu

static uint32_t crc_table[256];

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

/* Running CRC-32 (zlib's): start with ~seed, feed bytes, finish with ~. */
static inline uint32_t crc_byte(uint32_t c, uint8_t b) { return crc_table[(c ^ b) & 0xFF] ^ (c >> 8); }

/* Feed one code point as UTF-8 (surrogates encoded like "surrogatepass" does). */
static inline uint32_t crc_cp(uint32_t c, Py_UCS4 ch) {
    if (ch < 0x80) return crc_byte(c, (uint8_t)ch);
    if (ch < 0x800) {
        c = crc_byte(c, (uint8_t)(0xC0 | (ch >> 6)));
        return crc_byte(c, (uint8_t)(0x80 | (ch & 0x3F)));
    }
    if (ch < 0x10000) {
        c = crc_byte(c, (uint8_t)(0xE0 | (ch >> 12)));
        c = crc_byte(c, (uint8_t)(0x80 | ((ch >> 6) & 0x3F)));
        return crc_byte(c, (uint8_t)(0x80 | (ch & 0x3F)));
    }
    c = crc_byte(c, (uint8_t)(0xF0 | (ch >> 18)));
    c = crc_byte(c, (uint8_t)(0x80 | ((ch >> 12) & 0x3F)));
    c = crc_byte(c, (uint8_t)(0x80 | ((ch >> 6) & 0x3F)));
    return crc_byte(c, (uint8_t)(0x80 | (ch & 0x3F)));
}

/* Scripts written without spaces between words: cut into character bigrams. */
static inline int bigram_script(Py_UCS4 ch) {
    return (ch >= 0x4E00 && ch <= 0x9FFF) || (ch >= 0x3400 && ch <= 0x4DBF) || (ch >= 0xF900 && ch <= 0xFAFF) ||
           (ch >= 0x3040 && ch <= 0x30FF) || (ch >= 0x0E00 && ch <= 0x0E7F);
}

static inline int is_letter(Py_UCS4 ch) {
    if (ch < 0x80) return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
    return Py_UNICODE_ISALPHA(ch);
}

/* Stop-word keys in an open-addressing table (0 marks an empty slot; keys are never 0). */
#define STOP_SLOTS 1024
static uint32_t stop_table[STOP_SLOTS];

static inline int is_stop(uint32_t key) {
    for (uint32_t i = key & (STOP_SLOTS - 1);; i = (i + 1) & (STOP_SLOTS - 1)) {
        if (stop_table[i] == key) return 1;
        if (stop_table[i] == 0) return 0;
    }
}

typedef struct {
    uint32_t head[WINDOW];
    uint32_t ring[WINDOW]; /* the last WINDOW keys, oldest at ring[count % WINDOW] */
    Py_ssize_t count;
} Keys;

static inline void push(Keys *k, uint32_t key) {
    if (k->count < WINDOW) k->head[k->count] = key;
    k->ring[k->count % WINDOW] = key;
    k->count++;
}

static inline uint32_t finish_key(uint32_t crc) {
    uint32_t k = ~crc;
    if (k == 0) k = 1;
    return k < NOT_CONTENT - 1 ? k : NOT_CONTENT - 1;
}

/* Tokenise text[start:end] and push the keys of its content words. */
static inline void scan(int kind, const void *data, Py_ssize_t start, Py_ssize_t end, Keys *k) {
    Py_ssize_t i = start;
    while (i < end) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, i);
        if (!is_letter(ch)) {
            i++;
            continue;
        }
        int big = bigram_script(ch);
        Py_ssize_t j = i + 1;
        while (j < end) {
            Py_UCS4 c2 = PyUnicode_READ(kind, data, j);
            if (!is_letter(c2) || bigram_script(c2) != big) break;
            j++;
        }
        if (big) {
            for (Py_ssize_t p = i; p + 1 < j; p += 2) {
                uint32_t c = ~KEY_SEED;
                c = crc_cp(c, PyUnicode_READ(kind, data, p));
                c = crc_cp(c, PyUnicode_READ(kind, data, p + 1));
                push(k, finish_key(c));
            }
        } else if (j - i >= 3) {
            uint32_t c = ~KEY_SEED;
            for (Py_ssize_t p = i; p < j; p++) c = crc_cp(c, PyUnicode_READ(kind, data, p));
            uint32_t key = finish_key(c);
            if (!is_stop(key)) push(k, key);
        }
        i = j;
    }
}

static inline void sort_small(uint32_t *s, Py_ssize_t n) {
    for (Py_ssize_t i = 1; i < n; i++) {
        uint32_t v = s[i];
        Py_ssize_t j = i;
        for (; j > 0 && s[j - 1] > v; j--) s[j] = s[j - 1];
        s[j] = v;
    }
}

/* Bottom-3 of a window's distinct keys, mixed into 64 bits; 0 with fewer than 6 distinct. */
static uint64_t window_fp(const uint32_t *keys, Py_ssize_t n) {
    uint32_t s[WINDOW];
    memcpy(s, keys, (size_t)n * sizeof(uint32_t));
    sort_small(s, n);
    uint32_t lo[3];
    int distinct = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (i > 0 && s[i] == s[i - 1]) continue;
        if (distinct < 3) lo[distinct] = s[i];
        distinct++;
    }
    if (distinct < 6) return 0;
    uint64_t h = ((uint64_t)lo[0] * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)lo[1] << 21) ^
                 ((uint64_t)lo[2] * 0xC2B2AE3D27D4EB4Full);
    return h ? h : 1;
}

static PyObject *fingerprints(PyObject *self, PyObject *arg) {
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "fingerprints() expects a str");
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(arg);
    int kind = PyUnicode_KIND(arg);
    const void *data = PyUnicode_DATA(arg);
    Keys k;
    k.count = 0;
    /* One call per kind with a constant: the compiler specialises scan() for each. */
    Py_ssize_t a0 = 0, a1 = n <= LONG_TEXT ? n : SLICE, b0 = n <= LONG_TEXT ? n : n - SLICE;
    switch (kind) {
    case PyUnicode_1BYTE_KIND:
        scan(PyUnicode_1BYTE_KIND, data, a0, a1, &k);
        scan(PyUnicode_1BYTE_KIND, data, b0, n, &k);
        break;
    case PyUnicode_2BYTE_KIND:
        scan(PyUnicode_2BYTE_KIND, data, a0, a1, &k);
        scan(PyUnicode_2BYTE_KIND, data, b0, n, &k);
        break;
    default:
        scan(PyUnicode_4BYTE_KIND, data, a0, a1, &k);
        scan(PyUnicode_4BYTE_KIND, data, b0, n, &k);
    }
    uint64_t head = 0, tail = 0;
    if (k.count <= WINDOW) {
        head = window_fp(k.head, k.count);
    } else {
        uint32_t last[WINDOW];
        for (Py_ssize_t i = 0; i < WINDOW; i++) last[i] = k.ring[(k.count + i) % WINDOW];
        head = window_fp(k.head, WINDOW);
        tail = window_fp(last, WINDOW);
    }
    return Py_BuildValue("(KK)", (unsigned long long)head, (unsigned long long)tail);
}

static PyObject *set_stop_keys(PyObject *self, PyObject *arg) {
    PyObject *seq = PySequence_Fast(arg, "set_stop_keys() expects a sequence of int");
    if (seq == NULL) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n > STOP_SLOTS / 2) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_ValueError, "too many stop words");
        return NULL;
    }
    uint32_t table[STOP_SLOTS] = {0};
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned long v = PyLong_AsUnsignedLong(PySequence_Fast_GET_ITEM(seq, i));
        if ((v == (unsigned long)-1 && PyErr_Occurred()) || v == 0 || v > 0xFFFFFFFFul) {
            Py_DECREF(seq);
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "stop keys are in 1..2**32-1");
            return NULL;
        }
        uint32_t i2 = (uint32_t)v & (STOP_SLOTS - 1);
        while (table[i2] != 0 && table[i2] != (uint32_t)v) i2 = (i2 + 1) & (STOP_SLOTS - 1);
        table[i2] = (uint32_t)v;
    }
    Py_DECREF(seq);
    memcpy(stop_table, table, sizeof(table));
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"fingerprints", fingerprints, METH_O, "(head, tail) template fingerprints of lower-cased text."},
    {"set_stop_keys", set_stop_keys, METH_O, "Set the keys of the stop words."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_textkernel", NULL, -1, methods};

PyMODINIT_FUNC PyInit__textkernel(void) {
    crc_init();
    return PyModule_Create(&module);
}
