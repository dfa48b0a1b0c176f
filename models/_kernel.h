/* What the C kernels of models/ share: checked buffers of array attributes, interned names. */
#ifndef DISTILLGUARD_KERNEL_H
#define DISTILLGUARD_KERNEL_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

/* The buffer of ``obj.<name>``, an ``array`` of ``len`` items of type ``format`` ("d", "Q",
 * "I", "q", "B"); a ValueError names the attribute when it is anything else. */
static int attr_buffer(PyObject *obj, PyObject *name, Py_buffer *view, const char *format, Py_ssize_t len,
                       int writable) {
    PyObject *arr = PyObject_GetAttr(obj, name);
    if (arr == NULL) return -1;
    int rc = PyObject_GetBuffer(arr, view, (writable ? PyBUF_WRITABLE : PyBUF_SIMPLE) | PyBUF_FORMAT);
    Py_DECREF(arr);
    if (rc < 0) return -1;
    if (view->format == NULL || strcmp(view->format, format) != 0 || view->len != view->itemsize * len) {
        PyBuffer_Release(view);
        PyErr_Format(PyExc_ValueError, "%S: an array('%s') of %zd items expected", name, format, len);
        return -1;
    }
    return 0;
}

/* In a module's init function: ``var`` = the interned attribute name ``text``, or fail. */
#define INTERN(var, text) \
    if ((var = PyUnicode_InternFromString(text)) == NULL) return NULL;

#endif
