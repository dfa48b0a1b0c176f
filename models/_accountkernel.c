/* One learning step of an account, in C: the twin of models/account.py's ``_py_learn_one``,
 * which defines the semantics (tests/test_account.py checks, on arbitrary event sequences, that
 * the two leave identical states and report identical links). The step runs on every request
 * and was the largest single cost of replay in Python.
 *
 * learn(st, f, ts, params) -> list of (kind, value)
 *   st      AccountState (its n, f, q, u are updated in place)
 *   f       RequestFeatures
 *   ts      event time
 *   params  (fading, template_driven_share, young_days, template_systematic_uses, max_rotations,
 *            link_slots: dict kind -> slot, kinds: ("template_cot", "template", "template_seen"))
 *
 * The layout constants below must match models/account.py (checked at import there).
 */
#include "_kernel.h"
#include <math.h>
#include <stdint.h>

enum { E_ELICIT, E_RUBRIC, E_SINGLE, E_REUSE, E_LOGOUT, E_DT, E_DTVAR, E_ELICIT_SLOW, E_LOGIN };
enum { F_FIRST = 9, F_LAST, F_CREATED, NF = 15 };
#define TPL_K 10
enum { Q_LINKS = 0, Q_TPL = 8, Q_HOURS = 8 + TPL_K, NQ = Q_HOURS + 2 };
enum { U_IDS = 0, U_CNT = 8, U_CONTENT = 8 + TPL_K, U_LASTUSE = 8 + 2 * TPL_K, U_ROT = 8 + 3 * TPL_K };
enum { U_REUSED = U_ROT + 4, U_HOUR_BASE, U_BAND, U_SEQ, U_MEMBERS, U_EMITTED, NU };
#define SLOW 0.005
#define HOUR_MAX 0xFFFFFFFFLL /* the hour base is a uint32: later times count as its last hour */

static PyObject *s_n, *s_f, *s_q, *s_u, *s_elicit, *s_rubric, *s_single, *s_login, *s_logout, *s_head, *s_tail,
    *s_content, *s_links;

/* Python's float floor division (Objects/floatobject.c, float_divmod), for a non-negative x
 * and a positive y, so that the hour is the one Python computes for every ts. */
static double py_floordiv(double x, double y) {
    double mod = fmod(x, y);
    double div = (x - mod) / y;
    double fl;
    if (div) {
        fl = floor(div);
        if (div - fl > 0.5) fl += 1.0;
    } else {
        fl = copysign(0.0, x / y);
    }
    return fl;
}

static inline double ew(double m, double x, double a) { return m != m ? x : m + a * (x - m); }

static int slot(const uint64_t *q, uint64_t fp) {
    for (int i = 0; i < TPL_K; i++)
        if (q[Q_TPL + i] == fp) return i;
    return -1;
}

/* Count one use of a template; 1 if the account used it before with other content. */
static int use_template(uint64_t *q, uint32_t *u, uint64_t fp, uint32_t content, uint32_t n) {
    int i = slot(q, fp);
    if (i >= 0) {
        u[U_LASTUSE + i] = n;
        if (u[U_CONTENT + i] == content) return 0;
        u[U_CONTENT + i] = content;
        u[U_CNT + i] += 1;
        return 1;
    }
    int victim = 0; /* the least used, the least recently used among equals, the first of those */
    for (int j = 1; j < TPL_K; j++) {
        uint32_t c = u[U_CNT + j], cv = u[U_CNT + victim];
        if (c < cv || (c == cv && u[U_LASTUSE + j] < u[U_LASTUSE + victim])) victim = j;
    }
    u[U_EMITTED] &= ~(1u << victim);
    q[Q_TPL + victim] = fp;
    u[U_CNT + victim] = 1;
    u[U_CONTENT + victim] = content;
    u[U_LASTUSE + victim] = n;
    return 0;
}

static int mark_systematic(const uint64_t *q, uint32_t *u, uint64_t fp, unsigned long uses) {
    int i = slot(q, fp);
    if (i < 0) return 0;
    uint32_t bit = 1u << i;
    if ((u[U_EMITTED] & bit) || u[U_CNT + i] < uses) return 0;
    u[U_EMITTED] |= bit;
    return 1;
}

/* Attribute getters that raise on the wrong type, like the Python twin would. */
static int get_truth(PyObject *o, PyObject *name) {
    PyObject *v = PyObject_GetAttr(o, name);
    if (v == NULL) return -1;
    int t = PyObject_IsTrue(v);
    Py_DECREF(v);
    return t;
}

static double get_double(PyObject *o, PyObject *name) {
    PyObject *v = PyObject_GetAttr(o, name);
    if (v == NULL) return -1.0;
    double d = PyFloat_AsDouble(v);
    Py_DECREF(v);
    return d;
}

static uint64_t get_u64(PyObject *o, PyObject *name) {
    PyObject *v = PyObject_GetAttr(o, name);
    if (v == NULL) return (uint64_t)-1;
    uint64_t x = PyLong_AsUnsignedLongLong(v);
    Py_DECREF(v);
    return x;
}

static int append_link(PyObject *links, PyObject *kind, uint64_t value) {
    PyObject *v = PyLong_FromUnsignedLongLong(value);
    if (v == NULL) return -1;
    PyObject *t = PyTuple_Pack(2, kind, v);
    Py_DECREF(v);
    if (t == NULL) return -1;
    int rc = PyList_Append(links, t);
    Py_DECREF(t);
    return rc;
}

static PyObject *learn(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "learn(st, f, ts, params)");
        return NULL;
    }
    PyObject *st = args[0], *feat = args[1], *params = args[3];
    double ts = PyFloat_AsDouble(args[2]);
    if (ts == -1.0 && PyErr_Occurred()) return NULL;
    double a, driven_share, young_days;
    unsigned long systematic_uses, max_rotations;
    PyObject *link_slots, *kinds;
    if (!PyArg_ParseTuple(params, "dddkkO!O!", &a, &driven_share, &young_days, &systematic_uses, &max_rotations,
                          &PyDict_Type, &link_slots, &PyTuple_Type, &kinds))
        return NULL;
    if (PyTuple_GET_SIZE(kinds) != 3) {
        PyErr_SetString(PyExc_ValueError, "kinds: three names expected");
        return NULL;
    }

    /* Read every feature before touching the state: a bad feature leaves the state unchanged. */
    int elicit = get_truth(feat, s_elicit);
    int rubric = elicit < 0 ? -1 : get_truth(feat, s_rubric);
    if (rubric < 0) return NULL;
    PyObject *single_obj = PyObject_GetAttr(feat, s_single);
    if (single_obj == NULL) return NULL;
    int single = single_obj == Py_None ? -1 : PyObject_IsTrue(single_obj);
    Py_DECREF(single_obj);
    if (single == -1 && PyErr_Occurred()) return NULL;
    double log_out = get_double(feat, s_logout);
    if (log_out == -1.0 && PyErr_Occurred()) return NULL;
    double log_in = get_double(feat, s_login);
    if (log_in == -1.0 && PyErr_Occurred()) return NULL;
    uint64_t fps[2];
    fps[0] = get_u64(feat, s_head);
    if (fps[0] == (uint64_t)-1 && PyErr_Occurred()) return NULL;
    fps[1] = get_u64(feat, s_tail);
    if (fps[1] == (uint64_t)-1 && PyErr_Occurred()) return NULL;
    uint64_t content64 = get_u64(feat, s_content);
    if (content64 == (uint64_t)-1 && PyErr_Occurred()) return NULL;
    if (content64 > 0xFFFFFFFFu) {
        PyErr_SetString(PyExc_OverflowError, "content: a 32-bit hash expected");
        return NULL;
    }
    uint32_t content = (uint32_t)content64;
    PyObject *flinks = PyObject_GetAttr(feat, s_links);
    if (flinks == NULL) return NULL;
    if (!PyTuple_Check(flinks)) {
        Py_DECREF(flinks);
        PyErr_SetString(PyExc_TypeError, "links: a tuple expected");
        return NULL;
    }
    PyObject *nobj = PyObject_GetAttr(st, s_n);
    if (nobj == NULL) {
        Py_DECREF(flinks);
        return NULL;
    }
    long long n0 = PyLong_AsLongLong(nobj);
    Py_DECREF(nobj);
    if (n0 == -1 && PyErr_Occurred()) {
        Py_DECREF(flinks);
        return NULL;
    }

    Py_buffer fb, qb, ub;
    PyObject *links = NULL;
    if (attr_buffer(st, s_f, &fb, "d", NF, 1) < 0) goto out_links;
    if (attr_buffer(st, s_q, &qb, "Q", NQ, 1) < 0) goto out_f;
    if (attr_buffer(st, s_u, &ub, "I", NU, 1) < 0) goto out_q;
    double *f = (double *)fb.buf;
    uint64_t *q = (uint64_t *)qb.buf;
    uint32_t *u = (uint32_t *)ub.buf;

    links = PyList_New(0);
    if (links == NULL) goto out;

    if (n0 == 0) {
        f[F_FIRST] = ts;
    } else {
        double dt = ts - f[F_LAST];
        if (dt < 0.0) dt = 0.0;
        double m = f[E_DT];
        if (m != m) {
            f[E_DT] = dt;
            f[E_DTVAR] = 0.0;
        } else { /* river.stats.EWVar: var <- (1-a) * (var + a * (x - mean)^2) */
            double d = dt - m;
            f[E_DT] = m + a * d;
            f[E_DTVAR] = (1.0 - a) * (f[E_DTVAR] + a * d * d);
        }
    }
    if (ts > f[F_LAST]) f[F_LAST] = ts;
    long long n = n0 + 1;
    double x = elicit ? 1.0 : 0.0;
    f[E_ELICIT] = ew(f[E_ELICIT], x, a);
    f[E_ELICIT_SLOW] = ew(f[E_ELICIT_SLOW], x, SLOW);
    f[E_RUBRIC] = ew(f[E_RUBRIC], rubric ? 1.0 : 0.0, a);
    if (single >= 0) f[E_SINGLE] = ew(f[E_SINGLE], single ? 1.0 : 0.0, a);
    f[E_LOGOUT] = ew(f[E_LOGOUT], log_out, a);
    f[E_LOGIN] = ew(f[E_LOGIN], log_in, a);

    double hf = py_floordiv(ts, 3600.0);
    long long hour = hf >= (double)HOUR_MAX ? HOUR_MAX : (long long)hf;
    long long shift = hour - (long long)u[U_HOUR_BASE];
    if (shift > 0) {
        q[Q_HOURS] = shift < 48 ? ((q[Q_HOURS] << shift) | 1) & 0xFFFFFFFFFFFFull : 1;
        u[U_HOUR_BASE] = (uint32_t)hour;
    } else if (shift > -48) {
        q[Q_HOURS] |= 1ull << -shift;
    }

    uint32_t n32 = (uint32_t)(n & 0xFFFFFFFF);
    int reused = 0;
    for (int k = 0; k < 2; k++)
        if (fps[k] && use_template(q, u, fps[k], content, n32)) reused = 1;
    if (reused) u[U_REUSED] += 1;
    f[E_REUSE] = ew(f[E_REUSE], reused ? 1.0 : 0.0, a);
    int driven = n >= 3 && (double)u[U_REUSED] >= driven_share * (double)(n - 1);
    double created = f[F_CREATED];
    int young = created >= 0.0 && ts - created < young_days * 86400.0;
    int marked = elicit || rubric;
    for (int k = 0; k < 2; k++) {
        uint64_t fp = fps[k];
        if (!fp) continue;
        if (driven && mark_systematic(q, u, fp, systematic_uses)) {
            if (append_link(links, PyTuple_GET_ITEM(kinds, marked ? 0 : 1), fp) < 0) goto fail;
        } else if (young && marked) {
            int i = slot(q, fp);
            if (i >= 0 && u[U_CNT + i] == 1 && append_link(links, PyTuple_GET_ITEM(kinds, 2), fp) < 0) goto fail;
        }
    }

    Py_ssize_t nl = PyTuple_GET_SIZE(flinks);
    for (Py_ssize_t k = 0; k < nl; k++) {
        PyObject *item = PyTuple_GET_ITEM(flinks, k);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
            PyErr_SetString(PyExc_TypeError, "links: (kind, value) pairs expected");
            goto fail;
        }
        PyObject *slot_obj = PyDict_GetItemWithError(link_slots, PyTuple_GET_ITEM(item, 0));
        if (slot_obj == NULL) {
            if (!PyErr_Occurred()) PyErr_SetObject(PyExc_KeyError, PyTuple_GET_ITEM(item, 0));
            goto fail;
        }
        long sl = PyLong_AsLong(slot_obj);
        if (sl < 0 || sl > 7) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "link slot out of range");
            goto fail;
        }
        uint64_t value = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(item, 1));
        if (value == (uint64_t)-1 && PyErr_Occurred()) goto fail;
        int i = Q_LINKS + (int)sl;
        if (q[i] != value && q[i + 1] != value) {
            q[i + 1] = q[i];
            q[i] = value;
            int j = U_ROT + (i >> 1);
            if (u[j] < max_rotations) {
                u[j] += 1;
                if (PyList_Append(links, item) < 0) goto fail;
            }
        }
    }
    PyObject *nnew = PyLong_FromLongLong(n);
    if (nnew == NULL || PyObject_SetAttr(st, s_n, nnew) < 0) {
        Py_XDECREF(nnew);
        goto fail;
    }
    Py_DECREF(nnew);
    goto out;
fail:
    Py_CLEAR(links);
out:
    PyBuffer_Release(&ub);
out_q:
    PyBuffer_Release(&qb);
out_f:
    PyBuffer_Release(&fb);
out_links:
    Py_DECREF(flinks);
    return links;
}

static PyObject *layout(PyObject *self, PyObject *unused) {
    return Py_BuildValue("(iiiiiiii)", NF, NQ, NU, TPL_K, Q_HOURS, U_ROT, U_EMITTED, U_HOUR_BASE);
}

static PyMethodDef methods[] = {
    {"learn", (PyCFunction)(void (*)(void))learn, METH_FASTCALL, "learn(st, f, ts, params) -> links"},
    {"layout", layout, METH_NOARGS, "(NF, NQ, NU, TPL_K, Q_HOURS, U_ROT, U_EMITTED, U_HOUR_BASE)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_accountkernel", NULL, -1, methods};

PyMODINIT_FUNC PyInit__accountkernel(void) {
    INTERN(s_n, "n")
    INTERN(s_f, "f")
    INTERN(s_q, "q")
    INTERN(s_u, "u")
    INTERN(s_elicit, "elicit")
    INTERN(s_rubric, "rubric")
    INTERN(s_single, "single_turn")
    INTERN(s_login, "log_in")
    INTERN(s_logout, "log_out")
    INTERN(s_head, "tpl_head")
    INTERN(s_tail, "tpl_tail")
    INTERN(s_content, "content")
    INTERN(s_links, "links")
    return PyModule_Create(&module);
}
