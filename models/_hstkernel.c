/* The tree walk of models/population.py's ``FusedHalfSpaceTrees.score_learn_one``, in C, over
 * River's own tree nodes (river.tree.padded: ``l_mass``, ``r_mass``, ``feature``, ``threshold``,
 * ``children``). The Python method defines the semantics; tests/test_account.py checks that the
 * two leave identical masses and give identical scores. In Python the walk cost about 9 us per
 * account summary, the largest part of learning the population model.
 *
 * walk(trees, x, height, size_limit) -> float
 *   Adds 1 to ``l_mass`` along each tree's path for x and returns the sum over trees of
 *   ``r_mass * 2**depth`` along the path, up to the first node whose ``r_mass`` is below
 *   ``size_limit`` (River's ``score_one`` before ``learn_one``, in one walk per tree).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *s_l_mass, *s_r_mass, *s_feature, *s_threshold, *s_children, *one;

/* node.l_mass += 1 */
static int bump(PyObject *node) {
    PyObject *m = PyObject_GetAttr(node, s_l_mass);
    if (m == NULL) return -1;
    PyObject *m1 = PyNumber_Add(m, one);
    Py_DECREF(m);
    if (m1 == NULL) return -1;
    int rc = PyObject_SetAttr(node, s_l_mass, m1);
    Py_DECREF(m1);
    return rc;
}

/* node.r_mass as a C double (masses are window counts: exact as doubles). */
static int r_mass(PyObject *node, double *out) {
    PyObject *m = PyObject_GetAttr(node, s_r_mass);
    if (m == NULL) return -1;
    *out = PyFloat_AsDouble(m);
    Py_DECREF(m);
    return (*out == -1.0 && PyErr_Occurred()) ? -1 : 0;
}

/* The child the path takes; a borrowed reference (the children list holds it). */
static PyObject *next_node(PyObject *node, PyObject *x) {
    PyObject *children = PyObject_GetAttr(node, s_children);
    if (children == NULL) return NULL;
    PyObject *left, *right;
    if (PyTuple_Check(children) && PyTuple_GET_SIZE(children) == 2) { /* River's Branch */
        left = PyTuple_GET_ITEM(children, 0);
        right = PyTuple_GET_ITEM(children, 1);
    } else if (PyList_Check(children) && PyList_GET_SIZE(children) == 2) {
        left = PyList_GET_ITEM(children, 0);
        right = PyList_GET_ITEM(children, 1);
    } else {
        Py_DECREF(children);
        PyErr_SetString(PyExc_TypeError, "a branch with two children expected");
        return NULL;
    }
    Py_DECREF(children); /* the node keeps its children, which keep the two nodes */
    PyObject *feature = PyObject_GetAttr(node, s_feature);
    if (feature == NULL) return NULL;
    PyObject *value = PyDict_GetItemWithError(x, feature);
    Py_DECREF(feature);
    int go_left;
    if (value == NULL) {
        if (PyErr_Occurred()) return NULL;
        /* a missing feature: the child visited more in the current window */
        PyObject *lm = PyObject_GetAttr(left, s_l_mass);
        if (lm == NULL) return NULL;
        PyObject *rm = PyObject_GetAttr(right, s_l_mass);
        if (rm == NULL) {
            Py_DECREF(lm);
            return NULL;
        }
        int less = PyObject_RichCompareBool(lm, rm, Py_LT);
        Py_DECREF(lm);
        Py_DECREF(rm);
        if (less < 0) return NULL;
        go_left = !less;
    } else {
        PyObject *threshold = PyObject_GetAttr(node, s_threshold);
        if (threshold == NULL) return NULL;
        if (PyFloat_CheckExact(value) && PyFloat_CheckExact(threshold)) {
            go_left = PyFloat_AS_DOUBLE(value) < PyFloat_AS_DOUBLE(threshold);
        } else {
            go_left = PyObject_RichCompareBool(value, threshold, Py_LT);
            if (go_left < 0) {
                Py_DECREF(threshold);
                return NULL;
            }
        }
        Py_DECREF(threshold);
    }
    return go_left ? left : right;
}

static PyObject *walk(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4 || !PyList_Check(args[0]) || !PyDict_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "walk(trees: list, x: dict, height: int, size_limit: float)");
        return NULL;
    }
    PyObject *trees = args[0], *x = args[1];
    long height = PyLong_AsLong(args[2]);
    if (height == -1 && PyErr_Occurred()) return NULL;
    double size_limit = PyFloat_AsDouble(args[3]);
    if (size_limit == -1.0 && PyErr_Occurred()) return NULL;
    double total = 0.0;
    Py_ssize_t n_trees = PyList_GET_SIZE(trees);
    for (Py_ssize_t t = 0; t < n_trees; t++) {
        PyObject *node = PyList_GET_ITEM(trees, t);
        double depth_pow = 1.0;
        int scoring = 1;
        for (long h = 0; h < height; h++) {
            if (bump(node) < 0) return NULL;
            if (scoring) {
                double r;
                if (r_mass(node, &r) < 0) return NULL;
                total += r * depth_pow;
                scoring = r >= size_limit; /* River stops scoring where the mass gets too small */
                depth_pow *= 2.0;
            }
            node = next_node(node, x);
            if (node == NULL) return NULL;
        }
        if (bump(node) < 0) return NULL;
        if (scoring) {
            double r;
            if (r_mass(node, &r) < 0) return NULL;
            total += r * depth_pow;
        }
    }
    return PyFloat_FromDouble(total);
}

static PyMethodDef methods[] = {
    {"walk", (PyCFunction)(void (*)(void))walk, METH_FASTCALL,
     "walk(trees, x, height, size_limit) -> score mass (and learns x)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_hstkernel", NULL, -1, methods};

PyMODINIT_FUNC PyInit__hstkernel(void) {
#define INTERN(var, text) \
    if ((var = PyUnicode_InternFromString(text)) == NULL) return NULL;
    INTERN(s_l_mass, "l_mass")
    INTERN(s_r_mass, "r_mass")
    INTERN(s_feature, "feature")
    INTERN(s_threshold, "threshold")
    INTERN(s_children, "children")
#undef INTERN
    if ((one = PyLong_FromLong(1)) == NULL) return NULL;
    return PyModule_Create(&module);
}
