/* The walk of models/population.py's flat HalfSpaceTrees, in C: the twin of ``_py_walk``, which
 * defines the semantics (River's ``score_one``, and with ``learn`` its ``learn_one`` in the same
 * walk). tests/test_account.py checks both against River itself. In Python, over River's node
 * objects, the walk cost about 9 us per account summary; here it is well under a microsecond.
 *
 * walk(ft, x, size_limit, learn) -> float
 *   ft          a FlatTrees (features, node_feature, threshold, l_mass, r_mass, n_trees,
 *               n_nodes, height)
 *   x           dict of feature -> number (a missing feature takes the child visited more)
 *   size_limit  River's 0.1 * window_size
 *   learn       add 1 to l_mass along each path (and go on after scoring stops)
 *   returns     the sum over trees of r_mass * 2**depth along the path, up to the first node
 *               whose r_mass is below size_limit
 */
#include "_kernel.h"
#include <stdint.h>

#define MAX_FEATURES 256

static PyObject *s_features, *s_node_feature, *s_threshold, *s_l_mass, *s_r_mass, *s_n_trees, *s_n_nodes,
    *s_height;

static long get_long(PyObject *ft, PyObject *name) {
    PyObject *v = PyObject_GetAttr(ft, name);
    if (v == NULL) return -1;
    long n = PyLong_AsLong(v);
    Py_DECREF(v);
    return n;
}

static PyObject *walk(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4 || !PyDict_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "walk(ft, x: dict, size_limit, learn)");
        return NULL;
    }
    PyObject *ft = args[0], *x = args[1];
    double size_limit = PyFloat_AsDouble(args[2]);
    if (size_limit == -1.0 && PyErr_Occurred()) return NULL;
    int learn = PyObject_IsTrue(args[3]);
    if (learn < 0) return NULL;
    long n_trees = get_long(ft, s_n_trees), n_nodes = n_trees < 0 ? -1 : get_long(ft, s_n_nodes),
         height = n_nodes < 0 ? -1 : get_long(ft, s_height);
    if (height < 0) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "FlatTrees: negative size");
        return NULL;
    }
    if (n_nodes != (1L << (height + 1)) - 1) {
        PyErr_SetString(PyExc_ValueError, "FlatTrees: n_nodes does not match height");
        return NULL;
    }

    /* x by feature index, once per call */
    double vals[MAX_FEATURES];
    char present[MAX_FEATURES];
    PyObject *features = PyObject_GetAttr(ft, s_features);
    if (features == NULL) return NULL;
    if (!PyTuple_Check(features) || PyTuple_GET_SIZE(features) > MAX_FEATURES) {
        Py_DECREF(features);
        PyErr_SetString(PyExc_ValueError, "FlatTrees.features: a tuple of at most 256 names expected");
        return NULL;
    }
    Py_ssize_t n_features = PyTuple_GET_SIZE(features);
    for (Py_ssize_t i = 0; i < n_features; i++) {
        PyObject *v = PyDict_GetItemWithError(x, PyTuple_GET_ITEM(features, i));
        present[i] = v != NULL && v != Py_None;
        vals[i] = 0.0;
        if (v == NULL && PyErr_Occurred()) {
            Py_DECREF(features);
            return NULL;
        }
        if (present[i]) {
            vals[i] = PyFloat_AsDouble(v);
            if (vals[i] == -1.0 && PyErr_Occurred()) {
                Py_DECREF(features);
                return NULL;
            }
        }
    }
    Py_DECREF(features);

    Py_ssize_t size = (Py_ssize_t)n_trees * n_nodes;
    Py_buffer fb, tb, lb, rb;
    if (attr_buffer(ft, s_node_feature, &fb, "B", size, 0) < 0) return NULL;
    if (attr_buffer(ft, s_threshold, &tb, "d", size, 0) < 0) goto out_f;
    if (attr_buffer(ft, s_l_mass, &lb, "q", size, 1) < 0) goto out_t;
    if (attr_buffer(ft, s_r_mass, &rb, "q", size, 0) < 0) goto out_l;
    const uint8_t *feat = (const uint8_t *)fb.buf;
    const double *thr = (const double *)tb.buf;
    int64_t *lm = (int64_t *)lb.buf;
    const int64_t *rm = (const int64_t *)rb.buf;

    PyObject *result = NULL;
    double total = 0.0;
    for (long t = 0; t < n_trees; t++) {
        int64_t *l = lm + t * n_nodes;
        const int64_t *r = rm + t * n_nodes;
        long i = 0;
        double depth_pow = 1.0;
        int scoring = 1, stopped = 0;
        for (long h = 0; h < height; h++) {
            if (learn) l[i] += 1;
            if (scoring) {
                double m = (double)r[i];
                total += m * depth_pow;
                scoring = m >= size_limit; /* River stops scoring where the mass gets too small */
                depth_pow *= 2.0;
                if (!scoring && !learn) {
                    stopped = 1;
                    break;
                }
            }
            uint8_t f = feat[t * n_nodes + i];
            if (f >= n_features) {
                PyErr_SetString(PyExc_ValueError, "FlatTrees.node_feature out of range");
                goto out;
            }
            if (present[f])
                i = vals[f] < thr[t * n_nodes + i] ? 2 * i + 1 : 2 * i + 2;
            else
                i = l[2 * i + 1] < l[2 * i + 2] ? 2 * i + 2 : 2 * i + 1;
        }
        if (!stopped) {
            if (learn) l[i] += 1;
            if (scoring) total += (double)r[i] * depth_pow;
        }
    }
    result = PyFloat_FromDouble(total);
out:
    PyBuffer_Release(&rb);
out_l:
    PyBuffer_Release(&lb);
out_t:
    PyBuffer_Release(&tb);
out_f:
    PyBuffer_Release(&fb);
    return result;
}

static PyMethodDef methods[] = {
    {"walk", (PyCFunction)(void (*)(void))walk, METH_FASTCALL,
     "walk(ft, x, size_limit, learn) -> reference mass along x's paths (and learns x)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_hstkernel", NULL, -1, methods};

PyMODINIT_FUNC PyInit__hstkernel(void) {
    INTERN(s_features, "features")
    INTERN(s_node_feature, "node_feature")
    INTERN(s_threshold, "threshold")
    INTERN(s_l_mass, "l_mass")
    INTERN(s_r_mass, "r_mass")
    INTERN(s_n_trees, "n_trees")
    INTERN(s_n_nodes, "n_nodes")
    INTERN(s_height, "height")
    return PyModule_Create(&module);
}
