//! Python values to attribute values and back.
//!
//! `str`, `bool`, `int`, `float` and `bytes` map to their attribute types; `dict` (or
//! any mapping) to a map, `list` and `tuple` to an array; `None` attributes are left
//! out (OTLP has no null attribute). Anything else is sent as its `str()`, as 0.1.x did.
//! An `int` beyond 64 bits is sent as its decimal text, never wrapped.

use automagik_telemetry::{KeyValue, Value};
use pyo3::IntoPyObjectExt;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use std::borrow::Cow;

/// Deepest nesting converted; deeper containers (or a container that holds itself)
/// are sent as [`TOO_DEEP`], never as their `str()` (Python's own `repr` of a container
/// nested thousands deep raises `RecursionError`). The redactor caps the depth of what
/// is sent further.
const MAX_DEPTH: usize = 16;

/// What stands for a container nested deeper than [`MAX_DEPTH`]: the redactor's own
/// marker for what it cuts by depth.
const TOO_DEEP: &str = automagik_telemetry_core::redact::DEPTH_MARKER;

/// The text of any object: its `str()`, lossy on lone surrogates; `<TYPE object>` when
/// its `str()` raises (a telemetry call never raises the program's own errors).
fn text_of(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    match obj.str() {
        Ok(s) => Ok(s.to_string_lossy().into_owned()),
        Err(_) => Ok(format!(
            "<{} object>",
            obj.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_else(|_| "unknown".into())
        )),
    }
}

/// A key: a `str` as it is, anything else as its `str()`.
fn key_of(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    match obj.cast::<PyString>() {
        Ok(s) => Ok(s.to_string_lossy().into_owned()),
        Err(_) => text_of(obj),
    }
}

/// The attribute value of a Python object; `None` for `None`.
pub fn value(obj: &Bound<'_, PyAny>) -> PyResult<Option<Value>> {
    value_at(obj, 0)
}

fn value_at(obj: &Bound<'_, PyAny>, depth: usize) -> PyResult<Option<Value>> {
    if obj.is_none() {
        return Ok(None);
    }
    // `bool` is a subclass of `int`: it is looked at first.
    if obj.is_instance_of::<PyBool>() {
        return Ok(Some(Value::Bool(obj.extract::<bool>()?)));
    }
    if obj.is_instance_of::<PyInt>() {
        return Ok(Some(match obj.extract::<i64>() {
            Ok(i) => Value::I64(i),
            Err(_) => Value::Str(Cow::Owned(text_of(obj)?)),
        }));
    }
    if obj.is_instance_of::<PyFloat>() {
        return Ok(Some(Value::F64(obj.extract::<f64>()?)));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Some(Value::Str(Cow::Owned(
            s.to_string_lossy().into_owned(),
        ))));
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Some(Value::Bytes(b.as_bytes().to_vec())));
    }
    if depth < MAX_DEPTH {
        if let Ok(d) = obj.cast::<PyDict>() {
            let mut kvs = Vec::with_capacity(d.len());
            for (k, v) in d.iter() {
                if let Some(v) = value_at(&v, depth + 1)? {
                    kvs.push(KeyValue::new(key_of(&k)?, v));
                }
            }
            return Ok(Some(Value::Map(kvs)));
        }
        if let Ok(l) = obj.cast::<PyList>() {
            let mut items = Vec::with_capacity(l.len());
            for item in l.iter() {
                if let Some(v) = value_at(&item, depth + 1)? {
                    items.push(v);
                }
            }
            return Ok(Some(Value::Array(items)));
        }
        if let Ok(t) = obj.cast::<PyTuple>() {
            let mut items = Vec::with_capacity(t.len());
            for item in t.iter() {
                if let Some(v) = value_at(&item, depth + 1)? {
                    items.push(v);
                }
            }
            return Ok(Some(Value::Array(items)));
        }
    } else if obj.is_instance_of::<PyDict>()
        || obj.is_instance_of::<PyList>()
        || obj.is_instance_of::<PyTuple>()
    {
        return Ok(Some(Value::Str(Cow::Borrowed(TOO_DEEP))));
    }
    Ok(Some(Value::Str(Cow::Owned(text_of(obj)?))))
}

/// Attributes from a `dict` (or any object with `items()`); `None` gives none.
pub fn attributes(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<KeyValue>> {
    let Some(obj) = obj else {
        return Ok(Vec::new());
    };
    if obj.is_none() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    if let Ok(d) = obj.cast::<PyDict>() {
        out.reserve(d.len());
        for (k, v) in d.iter() {
            if let Some(v) = value(&v)? {
                out.push(KeyValue::new(key_of(&k)?, v));
            }
        }
        return Ok(out);
    }
    let items = obj
        .call_method0("items")
        .map_err(|_| PyTypeError::new_err("attributes must be a dict (or a mapping)"))?;
    for pair in items.try_iter()? {
        let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = pair?.extract()?;
        if let Some(v) = value(&v)? {
            out.push(KeyValue::new(key_of(&k)?, v));
        }
    }
    Ok(out)
}

/// The Python object of an attribute value.
pub fn to_py(py: Python<'_>, value: &Value) -> PyResult<Py<PyAny>> {
    Ok(match value {
        Value::Str(s) => {
            let text: &str = s;
            text.into_py_any(py)?
        }
        Value::Bool(b) => (*b).into_py_any(py)?,
        Value::I64(i) => (*i).into_py_any(py)?,
        Value::F64(f) => (*f).into_py_any(py)?,
        Value::Bytes(b) => PyBytes::new(py, b).into_any().unbind(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_py(py, item)?)?;
            }
            list.into_any().unbind()
        }
        Value::Map(kvs) => dict_of(py, kvs)?.into_any().unbind(),
    })
}

/// A `dict` of attributes.
pub fn dict_of<'py>(py: Python<'py>, attributes: &[KeyValue]) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for kv in attributes {
        d.set_item(kv.key.as_str(), to_py(py, &kv.value)?)?;
    }
    Ok(d)
}
