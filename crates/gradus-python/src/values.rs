//! Python values to spec values and back, so keyword arguments reach the core's
//! spec parser unchanged (no float is printed and re-read on the way).

use gradus::spec::{parse, Call, Value};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

/// A spec call `name(key=value, ...)` from Python keyword arguments. `None` values
/// are left out (the core then uses its default).
pub fn call_from_kwargs(name: &str, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Call> {
    let mut call = Call::bare(name);
    if let Some(kwargs) = kwargs {
        for (k, v) in kwargs.iter() {
            let key: String = k.extract().map_err(|_| {
                PyTypeError::new_err(format!("{name}(): keyword names must be strings, got {k}"))
            })?;
            if v.is_none() {
                continue;
            }
            let value = to_value(&v)
                .map_err(|e| PyTypeError::new_err(format!("{name}(): argument '{key}': {e}")))?;
            call.keywords.push((key, value));
        }
    }
    Ok(call)
}

/// A spec value from a Python value: `None` (the word `none`), bools, ints and floats,
/// tuples, lists, strings (a name such as `"min"` or a nested spec such as
/// `"linear(total_iters=5)"`), and gradus objects that carry a spec (`spec` attribute).
pub fn to_value(v: &Bound<'_, PyAny>) -> Result<Value, String> {
    // `None` inside a tuple or list (torch's `Adafactor(eps=(None, 1e-3))`) is the
    // spec word `none`; a keyword that is `None` itself is left out before this.
    if v.is_none() {
        return Ok(Value::Call(Call::bare("none")));
    }
    if v.is_instance_of::<PyBool>() {
        return Ok(Value::Bool(v.extract::<bool>().map_err(|e| e.to_string())?));
    }
    if v.is_instance_of::<PyInt>() {
        if let Ok(n) = v.extract::<i64>() {
            return Ok(Value::Integer(n));
        }
    }
    if v.is_instance_of::<PyInt>() || v.is_instance_of::<PyFloat>() {
        return Ok(Value::Number(
            v.extract::<f64>().map_err(|e| e.to_string())?,
        ));
    }
    if let Ok(t) = v.cast::<PyTuple>() {
        return t
            .iter()
            .map(|x| to_value(&x))
            .collect::<Result<_, _>>()
            .map(Value::Tuple);
    }
    if let Ok(l) = v.cast::<PyList>() {
        return l
            .iter()
            .map(|x| to_value(&x))
            .collect::<Result<_, _>>()
            .map(Value::List);
    }
    if let Ok(s) = v.cast::<PyString>() {
        let text: String = s.extract().map_err(|e: PyErr| e.to_string())?;
        return parse(&text).map(Value::Call).map_err(|e| e.to_string());
    }
    // NumPy and torch scalars (np.float64(0.1), torch.tensor(0.1)) convert like floats.
    if let Ok(x) = v.call_method0("__float__").and_then(|f| f.extract::<f64>()) {
        return Ok(Value::Number(x));
    }
    if let Ok(spec) = v.getattr("spec").and_then(|s| s.extract::<String>()) {
        return parse(&spec).map(Value::Call).map_err(|e| e.to_string());
    }
    Err(format!(
        "expected a number, bool, None, tuple, list or spec string, got {}",
        v.get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_default()
    ))
}

/// A Python value from a spec value (integers as ints and other numbers as floats, as the
/// spec holds them; names become strings, nested calls their spec text).
pub fn to_python<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Number(x) => PyFloat::new(py, *x).into_any(),
        Value::Integer(n) => PyInt::new(py, *n).into_any(),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Tuple(items) => {
            let items = items
                .iter()
                .map(|x| to_python(py, x))
                .collect::<PyResult<Vec<_>>>()?;
            PyTuple::new(py, items)?.into_any()
        }
        Value::List(items) => {
            let items = items
                .iter()
                .map(|x| to_python(py, x))
                .collect::<PyResult<Vec<_>>>()?;
            PyList::new(py, items)?.into_any()
        }
        Value::Call(c) => PyString::new(py, &c.to_string()).into_any(),
    })
}

/// The keyword arguments of a call as a Python dict (positional ones are not expected:
/// the core writes every call it prints with keywords).
pub fn call_to_dict<'py>(py: Python<'py>, call: &Call) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in &call.keywords {
        d.set_item(k, to_python(py, v)?)?;
    }
    Ok(d)
}
