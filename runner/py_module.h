/* py_module.h — the _fabc built-in module: state shared by every py_*.c.
 *
 * _fabc uses multi-phase init. Each subsystem has a py_<sub>.c with an
 * exec function that adds its functions and heap types to the module:
 *
 *     int fabc_py_<sub>_exec(PyObject *module, struct fabc_state *st);
 *
 * returning 0, or -1 with an exception set. A subsystem keeps its heap
 * types (or any other object it needs) in st->sub[FABC_SUB_<SUB>] (one
 * owned reference; put a tuple there for several). py_module.c visits and
 * clears every slot, so a subsystem never edits the state struct. Module
 * functions receive the module as `self`: fabc_py_state(self). Methods of
 * heap types find it with PyType_GetModuleState(Py_TYPE(obj)).
 */
#ifndef FABC_PY_MODULE_H
#define FABC_PY_MODULE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "err.h"

enum fabc_sub {
    FABC_SUB_LOCAL,
    FABC_SUB_CONFIG,
    FABC_SUB_TEMPLATE,
    FABC_SUB_SSH,
    FABC_SUB_CLOUD,
    FABC_SUB_HTTP,
    FABC_SUB_MAX
};

struct fabc_state {
    PyObject *Error;           /* fabc.Error(Exception) */
    PyObject *ConnectionError; /* (Error, builtins.ConnectionError) */
    PyObject *AuthError;       /* (Error) */
    PyObject *HostKeyError;    /* (Error) */
    PyObject *CommandError;    /* (Error) */
    PyObject *TimeoutError;    /* (Error, builtins.TimeoutError) */
    PyObject *CloudError;      /* (Error) */
    PyObject *TemplateError;   /* (Error) */
    PyObject *ConfigError;     /* (Error) */
    PyObject *TaskError;       /* (Error) */
    PyObject *TransferError;   /* (Error) put/get failures */
    PyObject *sub[FABC_SUB_MAX];
};

/* The module state of `module` (borrowed). */
struct fabc_state *fabc_py_state(PyObject *module);

/* py_err.c: raise the exception that matches err->code with err's fields
 * as attributes (host, code_name, lib_code, status, file, line, column,
 * method, url, request_id); always returns NULL. */
PyObject *fabc_py_raise(struct fabc_state *st, const struct fabc_err *err);

/* Return -1 and set KeyboardInterrupt-or-pending-signal if a signal or a
 * cancel is pending; call with the GIL held after every wake-up. */
int fabc_py_check_signals(void);

/* The exec functions, one per py_<sub>.c. */
int fabc_py_local_exec(PyObject *m, struct fabc_state *st);
int fabc_py_config_exec(PyObject *m, struct fabc_state *st);
int fabc_py_template_exec(PyObject *m, struct fabc_state *st);
int fabc_py_ssh_exec(PyObject *m, struct fabc_state *st);
int fabc_py_cloud_exec(PyObject *m, struct fabc_state *st);
int fabc_py_http_exec(PyObject *m, struct fabc_state *st);

/* embed.c registers this in the inittab before Py_Initialize. */
PyObject *fabc_py_module_init(void);

#endif
