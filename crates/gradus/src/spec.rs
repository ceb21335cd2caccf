//! The spec language: optimizers and schedules written as calls, as a PyTorch user
//! would write them.
//!
//! ```text
//! adam(lr=0.01, betas=(0.9, 0.99), amsgrad=true)
//! sgd(lr=0.1, momentum=0.9, nesterov=true)
//! multi_step(milestones=[30, 80], gamma=0.5)
//! sequential(schedulers=[linear(start_factor=0.1, total_iters=10), cosine_annealing(t_max=90)], milestones=[10])
//! adam                      # a bare name: all defaults
//! ```
//!
//! Values are integers (`500`, `-3`), numbers in any float syntax (`1e-3`, `.5`, `2.`,
//! `-0.0`, `inf`, `nan`, and the fraction `1/3`), `true`/`false` (also Python's `True`/`False`), tuples in
//! parentheses, lists in brackets and nested calls. Arguments may be positional, in
//! the order the documentation lists them, followed by keyword arguments.
//!
//! [`parse`] turns text into a [`Call`]; [`Args`] then pulls typed, checked values out
//! of it for a config builder. Unknown keys are errors that list the valid ones.

use crate::error::{Error, Result};
use std::fmt;

/// A value in a spec.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A number written with a fraction, an exponent or a float word (`0.5`, `1e3`,
    /// `500.0`, `inf`). Integer arguments accept it when it is integral.
    Number(f64),
    /// An integer written as digits (`500`, `-3`): integer hyperparameters print this
    /// way, and number arguments accept it too.
    Integer(i64),
    /// `true` or `false`.
    Bool(bool),
    /// `(a, b, ...)`.
    Tuple(Vec<Value>),
    /// `[a, b, ...]`.
    List(Vec<Value>),
    /// A nested call such as `linear(total_iters=10)` or a bare name such as `adam`.
    Call(Call),
}

/// A parsed call: a name and its arguments, in the order written.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The function name (`adam`, `cosine_annealing`, ...).
    pub name: String,
    /// Positional arguments, in order.
    pub positional: Vec<Value>,
    /// Keyword arguments, in order.
    pub keywords: Vec<(String, Value)>,
}

impl Call {
    /// A call with no arguments.
    pub fn bare(name: impl Into<String>) -> Self {
        Call {
            name: name.into(),
            positional: vec![],
            keywords: vec![],
        }
    }
}

fn fmt_number(x: f64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if x.is_nan() {
        f.write_str("nan")
    } else if x.is_infinite() {
        f.write_str(if x > 0.0 { "inf" } else { "-inf" })
    } else {
        // `{:?}` is the shortest representation that round-trips.
        write!(f, "{x:?}")
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Number(x) => fmt_number(*x, f),
            Value::Integer(n) => write!(f, "{n}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Tuple(v) => {
                f.write_str("(")?;
                write_list(v, f)?;
                if v.len() == 1 {
                    f.write_str(",")?;
                }
                f.write_str(")")
            }
            Value::List(v) => {
                f.write_str("[")?;
                write_list(v, f)?;
                f.write_str("]")
            }
            Value::Call(c) => write!(f, "{c}"),
        }
    }
}

fn write_list(v: &[Value], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{x}")?;
    }
    Ok(())
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if self.positional.is_empty() && self.keywords.is_empty() {
            return Ok(());
        }
        f.write_str("(")?;
        let mut first = true;
        for v in &self.positional {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{v}")?;
        }
        for (k, v) in &self.keywords {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{k}={v}")?;
        }
        f.write_str(")")
    }
}

impl Value {
    /// The value as a number, if it is one (integers included).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(x) => Some(*x),
            Value::Integer(n) => Some(*n as f64),
            _ => None,
        }
    }

    /// A short description of the value's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Number(_) => "a number",
            Value::Integer(_) => "an integer",
            Value::Bool(_) => "a boolean",
            Value::Tuple(_) => "a tuple",
            Value::List(_) => "a list",
            Value::Call(_) => "a call",
        }
    }
}

/// Parses one call such as `adam(lr=0.01, betas=(0.9, 0.99))`.
pub fn parse(input: &str) -> Result<Call> {
    let mut p = Parser {
        input,
        bytes: input.as_bytes(),
        pos: 0,
    };
    p.skip_ws();
    if p.pos == p.bytes.len() {
        return Err(p.error("empty spec; expected a name such as 'adam' or 'sgd(lr=0.1)'"));
    }
    let call = match p.value()? {
        Value::Call(c) => c,
        other => {
            return Err(Error::Syntax {
                input: input.to_string(),
                column: 1,
                message: format!("expected a name such as 'adam', got {}", other.kind()),
            })
        }
    };
    p.skip_ws();
    if p.pos != p.bytes.len() {
        return Err(p.error("unexpected text after the end of the call"));
    }
    Ok(call)
}

struct Parser<'a> {
    input: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

/// Nesting deeper than this is refused rather than risking the stack.
const MAX_DEPTH: usize = 32;

impl<'a> Parser<'a> {
    fn error(&self, message: impl Into<String>) -> Error {
        // Column in characters, 1-based.
        let column = self.input[..self.pos.min(self.input.len())].chars().count() + 1;
        Error::Syntax {
            input: self.input.to_string(),
            column,
            message: message.into(),
        }
    }

    fn skip_ws(&mut self) {
        while self.pos < self.bytes.len() && self.bytes[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn value(&mut self) -> Result<Value> {
        self.value_at(0)
    }

    fn value_at(&mut self, depth: usize) -> Result<Value> {
        if depth > MAX_DEPTH {
            return Err(self.error("nesting too deep"));
        }
        self.skip_ws();
        match self.peek() {
            None => Err(self.error("unexpected end of input; expected a value")),
            Some(b'(') => {
                self.pos += 1;
                let items = self.items(b')', depth)?;
                Ok(Value::Tuple(items))
            }
            Some(b'[') => {
                self.pos += 1;
                let items = self.items(b']', depth)?;
                Ok(Value::List(items))
            }
            Some(c) if c.is_ascii_digit() || c == b'.' || c == b'-' || c == b'+' => {
                let x = self.number()?;
                self.skip_ws();
                if self.peek() == Some(b'/') {
                    self.pos += 1;
                    self.skip_ws();
                    let y = self.number()?;
                    let (x, y) = (x.as_f64(), y.as_f64());
                    return Ok(Value::Number(x.unwrap_or(f64::NAN) / y.unwrap_or(f64::NAN)));
                }
                Ok(x)
            }
            Some(c) if c.is_ascii_alphabetic() || c == b'_' => {
                let start = self.pos;
                let name = self.ident();
                match name {
                    "true" | "True" => return Ok(Value::Bool(true)),
                    "false" | "False" => return Ok(Value::Bool(false)),
                    "inf" | "infinity" | "Infinity" | "nan" | "NaN" => {
                        self.pos = start;
                        return self.number();
                    }
                    _ => {}
                }
                let name = name.to_string();
                self.skip_ws();
                if self.peek() == Some(b'(') {
                    self.pos += 1;
                    self.call_args(name, depth)
                } else {
                    Ok(Value::Call(Call::bare(name)))
                }
            }
            Some(_) => {
                let c = self.input[self.pos..].chars().next().unwrap_or('?');
                Err(self.error(format!("unexpected character '{c}'")))
            }
        }
    }

    fn ident(&mut self) -> &'a str {
        let start = self.pos;
        while self.pos < self.bytes.len()
            && (self.bytes[self.pos].is_ascii_alphanumeric() || self.bytes[self.pos] == b'_')
        {
            self.pos += 1;
        }
        &self.input[start..self.pos]
    }

    /// A number literal: [`Value::Integer`] when written as plain digits that fit an
    /// `i64` (but not `-0`, whose sign only a float keeps), else [`Value::Number`].
    fn number(&mut self) -> Result<Value> {
        let start = self.pos;
        if matches!(self.peek(), Some(b'+' | b'-')) {
            self.pos += 1;
        }
        while self.pos < self.bytes.len() {
            let c = self.bytes[self.pos];
            let exp_sign = (c == b'+' || c == b'-')
                && self.pos > start
                && matches!(self.bytes[self.pos - 1], b'e' | b'E');
            if c.is_ascii_alphanumeric() || c == b'.' || c == b'_' || exp_sign {
                self.pos += 1;
            } else {
                break;
            }
        }
        let text = &self.input[start..self.pos];
        let cleaned: String = text.chars().filter(|&c| c != '_').collect();
        let lower = cleaned.to_ascii_lowercase();
        let (sign, body) = match lower.strip_prefix('-') {
            Some(rest) => (-1.0, rest),
            None => (1.0, lower.strip_prefix('+').unwrap_or(&lower)),
        };
        let digits_only = !body.is_empty() && body.bytes().all(|c| c.is_ascii_digit());
        if digits_only && !(sign < 0.0 && body.bytes().all(|c| c == b'0')) {
            let signed = if sign < 0.0 {
                format!("-{body}")
            } else {
                body.to_string()
            };
            if let Ok(n) = signed.parse::<i64>() {
                return Ok(Value::Integer(n));
            }
        }
        let parsed = match body {
            "inf" | "infinity" => Some(f64::INFINITY),
            "nan" => Some(f64::NAN),
            _ if body.starts_with(|c: char| c.is_ascii_digit() || c == '.') => body.parse().ok(),
            _ => None,
        };
        match parsed {
            Some(x) => Ok(Value::Number(sign * x)),
            None => {
                self.pos = start;
                Err(self.error(format!("'{text}' is not a number")))
            }
        }
    }

    /// Items of a tuple or list, after the opening bracket.
    fn items(&mut self, close: u8, depth: usize) -> Result<Vec<Value>> {
        let mut items = Vec::new();
        loop {
            if self.eat(close) {
                return Ok(items);
            }
            items.push(self.value_at(depth + 1)?);
            if self.eat(b',') {
                continue;
            }
            if self.eat(close) {
                return Ok(items);
            }
            return Err(self.error(format!("expected ',' or '{}'", close as char)));
        }
    }

    fn call_args(&mut self, name: String, depth: usize) -> Result<Value> {
        let mut call = Call::bare(name);
        loop {
            if self.eat(b')') {
                return Ok(Value::Call(call));
            }
            self.skip_ws();
            // keyword argument?
            let save = self.pos;
            let mut keyword = None;
            if matches!(self.peek(), Some(c) if c.is_ascii_alphabetic() || c == b'_') {
                let key = self.ident().to_string();
                if self.eat(b'=') {
                    keyword = Some(key);
                } else {
                    self.pos = save;
                }
            }
            let value = self.value_at(depth + 1)?;
            match keyword {
                Some(key) => {
                    if call.keywords.iter().any(|(k, _)| *k == key) {
                        self.pos = save;
                        return Err(self.error(format!("argument '{key}' given twice")));
                    }
                    call.keywords.push((key, value));
                }
                None => {
                    if !call.keywords.is_empty() {
                        self.pos = save;
                        return Err(self.error("positional argument after keyword arguments"));
                    }
                    call.positional.push(value);
                }
            }
            if self.eat(b',') {
                continue;
            }
            if self.eat(b')') {
                return Ok(Value::Call(call));
            }
            return Err(self.error("expected ',' or ')'"));
        }
    }
}

/// Typed access to the arguments of a [`Call`], with the checks every config builder
/// needs: unknown keys, positional arguments mapped to names, wrong types.
#[derive(Debug)]
pub struct Args<'a> {
    call: &'a Call,
    names: &'a [&'a str],
    values: Vec<Option<&'a Value>>,
}

impl<'a> Args<'a> {
    /// Binds `call`'s arguments to `names` (positional arguments in that order).
    /// Fails on an unknown key, too many positional arguments, or a key given twice.
    pub fn bind(call: &'a Call, names: &'a [&'a str]) -> Result<Self> {
        let mut values: Vec<Option<&Value>> = vec![None; names.len()];
        let valid = || names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        if call.positional.len() > names.len() {
            return Err(Error::Syntax {
                input: call.to_string(),
                column: 1,
                message: format!(
                    "{}() takes at most {} positional arguments ({}), got {}",
                    call.name,
                    names.len(),
                    names.join(", "),
                    call.positional.len()
                ),
            });
        }
        for (i, v) in call.positional.iter().enumerate() {
            values[i] = Some(v);
        }
        for (k, v) in &call.keywords {
            match names.iter().position(|n| n == k) {
                Some(i) => {
                    if values[i].is_some() {
                        return Err(Error::Syntax {
                            input: call.to_string(),
                            column: 1,
                            message: format!("{}() got argument '{k}' twice", call.name),
                        });
                    }
                    values[i] = Some(v);
                }
                None => {
                    return Err(Error::UnknownKey {
                        call: call.name.clone(),
                        key: k.clone(),
                        valid: valid(),
                    })
                }
            }
        }
        Ok(Args {
            call,
            names,
            values,
        })
    }

    /// The call these arguments belong to.
    pub fn call(&self) -> &'a Call {
        self.call
    }

    /// The raw value of `key`, if given.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        let i = self.names.iter().position(|n| *n == key)?;
        self.values[i]
    }

    fn wrong(&self, key: &str, expected: &str, got: &Value) -> Error {
        Error::WrongType {
            call: self.call.name.clone(),
            key: key.to_string(),
            expected: expected.to_string(),
            got: format!("{got}"),
        }
    }

    /// Whether `key` was given.
    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// A number argument.
    pub fn f64(&self, key: &str) -> Result<Option<f64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| self.wrong(key, "a number", v)),
        }
    }

    /// A number argument with a default.
    pub fn f64_or(&self, key: &str, default: f64) -> Result<f64> {
        Ok(self.f64(key)?.unwrap_or(default))
    }

    /// A required number argument.
    pub fn f64_req(&self, key: &str) -> Result<f64> {
        self.f64(key)?.ok_or_else(|| self.missing(key))
    }

    /// An error for a missing required argument.
    pub fn missing(&self, key: &str) -> Error {
        Error::MissingArgument {
            call: self.call.name.clone(),
            key: key.to_string(),
        }
    }

    /// A non-negative integer argument (given as a number with no fractional part).
    pub fn u64(&self, key: &str) -> Result<Option<u64>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Integer(n)) => u64::try_from(*n)
                .map(Some)
                .map_err(|_| Error::invalid(&self.call.name, key, n, "a non-negative integer")),
            Some(Value::Number(x)) => Ok(Some(self.to_u64(key, *x)?)),
            Some(v) => Err(self.wrong(key, "a non-negative integer", v)),
        }
    }

    fn to_u64(&self, key: &str, x: f64) -> Result<u64> {
        if x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x <= 9.007_199_254_740_992e15 {
            Ok(x as u64)
        } else {
            Err(Error::invalid(
                &self.call.name,
                key,
                fmt_value(x),
                "a non-negative integer",
            ))
        }
    }

    /// A boolean argument.
    pub fn bool(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(self.wrong(key, "true or false", v)),
        }
    }

    /// A pair of numbers, written as a tuple or list: `betas=(0.9, 0.999)`.
    pub fn pair(&self, key: &str) -> Result<Option<(f64, f64)>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Tuple(v) | Value::List(v)) if v.len() == 2 => {
                match (v[0].as_f64(), v[1].as_f64()) {
                    (Some(a), Some(b)) => Ok(Some((a, b))),
                    _ => Err(self.wrong(
                        key,
                        "a pair of numbers like (0.9, 0.999)",
                        self.get(key).unwrap(),
                    )),
                }
            }
            Some(v) => Err(self.wrong(key, "a pair of numbers like (0.9, 0.999)", v)),
        }
    }

    /// A list (or tuple) of numbers.
    pub fn f64_list(&self, key: &str) -> Result<Option<Vec<f64>>> {
        match self.get(key) {
            None => Ok(None),
            Some(v @ (Value::Tuple(items) | Value::List(items))) => items
                .iter()
                .map(|x| {
                    x.as_f64()
                        .ok_or_else(|| self.wrong(key, "a list of numbers", v))
                })
                .collect::<Result<Vec<_>>>()
                .map(Some),
            Some(v) => v
                .as_f64()
                .map(|x| Some(vec![x]))
                .ok_or_else(|| self.wrong(key, "a list of numbers", v)),
        }
    }

    /// A list of non-negative integers.
    pub fn u64_list(&self, key: &str) -> Result<Option<Vec<u64>>> {
        match self.f64_list(key)? {
            None => Ok(None),
            Some(v) => v
                .into_iter()
                .map(|x| self.to_u64(key, x))
                .collect::<Result<Vec<_>>>()
                .map(Some),
        }
    }

    /// A list of calls, e.g. `schedulers=[linear(total_iters=5), cosine_annealing(t_max=10)]`.
    pub fn call_list(&self, key: &str) -> Result<Option<Vec<&'a Call>>> {
        match self.get(key) {
            None => Ok(None),
            Some(v @ (Value::Tuple(items) | Value::List(items))) => items
                .iter()
                .map(|x| match x {
                    Value::Call(c) => Ok(c),
                    _ => {
                        Err(self.wrong(key, "a list of calls like [linear(total_iters=5), ...]", v))
                    }
                })
                .collect::<Result<Vec<_>>>()
                .map(Some),
            Some(v) => Err(self.wrong(key, "a list of calls", v)),
        }
    }

    /// A bare-name argument such as `anneal_strategy=cos` (a quoted-free identifier).
    pub fn word(&self, key: &str) -> Result<Option<&'a str>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Call(c)) if c.positional.is_empty() && c.keywords.is_empty() => {
                Ok(Some(c.name.as_str()))
            }
            Some(v) => Err(self.wrong(key, "a name", v)),
        }
    }
}

/// Formats a number the way the spec language writes it.
pub fn fmt_value(x: f64) -> String {
    Value::Number(x).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_name() {
        let c = parse("adam").unwrap();
        assert_eq!(c, Call::bare("adam"));
        let c = parse("  adam()  ").unwrap();
        assert_eq!(c, Call::bare("adam"));
    }

    #[test]
    fn keywords_tuples_lists_bools() {
        let c = parse("adam(lr=0.01, betas=(0.9, 0.99), amsgrad=true)").unwrap();
        assert_eq!(c.name, "adam");
        assert_eq!(c.keywords[0], ("lr".into(), Value::Number(0.01)));
        assert_eq!(
            c.keywords[1],
            (
                "betas".into(),
                Value::Tuple(vec![Value::Number(0.9), Value::Number(0.99)])
            )
        );
        assert_eq!(c.keywords[2], ("amsgrad".into(), Value::Bool(true)));
        let c = parse("multi_step(milestones=[30, 80], gamma=0.5)").unwrap();
        assert_eq!(
            c.keywords[0].1,
            Value::List(vec![Value::Integer(30), Value::Integer(80)])
        );
        let c = parse("sgd(lr=1e-3, nesterov=True, maximize=False,)").unwrap();
        assert_eq!(c.keywords[1].1, Value::Bool(true));
        assert_eq!(c.keywords[2].1, Value::Bool(false));
    }

    #[test]
    fn float_syntaxes() {
        for (text, want) in [
            ("1e-3", 1e-3),
            ("1E-3", 1e-3),
            (".5", 0.5),
            ("2.", 2.0),
            ("-0.25", -0.25),
            ("+3.", 3.0),
            ("1_000.0", 1000.0),
            ("1e3", 1000.0),
            ("1/3", 1.0 / 3.0),
            ("2.5e+2", 250.0),
            ("inf", f64::INFINITY),
            ("-inf", f64::NEG_INFINITY),
        ] {
            let c = parse(&format!("f(x={text})")).unwrap();
            assert_eq!(c.keywords[0].1, Value::Number(want), "{text}");
        }
        let c = parse("f(x=nan)").unwrap();
        assert!(matches!(c.keywords[0].1, Value::Number(x) if x.is_nan()));
        let c = parse("f(x=-0.0)").unwrap();
        assert!(matches!(c.keywords[0].1, Value::Number(x) if x == 0.0 && x.is_sign_negative()));
    }

    #[test]
    fn nested_calls_and_positional() {
        let c = parse(
            "sequential(schedulers=[linear(start_factor=0.1, total_iters=10), cosine_annealing(90)], milestones=[10])",
        )
        .unwrap();
        let Value::List(items) = &c.keywords[0].1 else {
            panic!()
        };
        assert_eq!(items.len(), 2);
        let Value::Call(cos) = &items[1] else {
            panic!()
        };
        assert_eq!(cos.positional, vec![Value::Integer(90)]);
    }

    #[test]
    fn integers_are_digits_and_print_as_digits() {
        for (text, want) in [
            ("500", Value::Integer(500)),
            ("+3", Value::Integer(3)),
            ("-3", Value::Integer(-3)),
            ("1_000", Value::Integer(1000)),
            ("500.0", Value::Number(500.0)),
            ("5e2", Value::Number(500.0)),
            ("-0", Value::Number(-0.0)),
            ("99999999999999999999", Value::Number(1e20)),
        ] {
            let c = parse(&format!("f(x={text})")).unwrap();
            assert_eq!(c.keywords[0].1, want, "{text}");
        }
        assert_eq!(Value::Integer(500).to_string(), "500");
        assert_eq!(Value::Number(500.0).to_string(), "500.0");
        let c = parse("f(a=2, b=(1, 0.5), c=[3, 4.0], d=-2, e=1/2)").unwrap();
        let a = Args::bind(&c, &["a", "b", "c", "d", "e"]).unwrap();
        assert_eq!(a.f64("a").unwrap(), Some(2.0));
        assert_eq!(a.u64("a").unwrap(), Some(2));
        assert_eq!(a.pair("b").unwrap(), Some((1.0, 0.5)));
        assert_eq!(a.f64_list("c").unwrap(), Some(vec![3.0, 4.0]));
        assert_eq!(a.u64_list("c").unwrap(), Some(vec![3, 4]));
        assert_eq!(a.f64("d").unwrap(), Some(-2.0));
        assert!(matches!(
            a.u64("d"),
            Err(Error::InvalidHyperparameter { value, .. }) if value == "-2"
        ));
        assert_eq!(a.f64("e").unwrap(), Some(0.5));
    }

    #[test]
    fn round_trip_display() {
        for s in [
            "adam(lr=0.01, betas=(0.9, 0.99), amsgrad=true)",
            "multi_step(milestones=[30.0, 80.0], gamma=0.5)",
            "multi_step(milestones=[30, 80], gamma=0.5)",
            "cosine_annealing(t_max=500, eta_min=0.0)",
            "adam",
        ] {
            let c = parse(s).unwrap();
            assert_eq!(parse(&c.to_string()).unwrap(), c);
        }
    }

    #[test]
    fn syntax_errors_name_the_column() {
        let cases = [
            ("", 1),
            ("adam(", 6),
            ("adam(lr=)", 9),
            ("adam(lr=0.1", 12),
            ("adam(lr=0.1))", 13),
            ("adam(lr=abc!)", 12),
            ("adam(lr=1x)", 9),
            ("adam(lr=0.1, lr=0.2)", 14),
            ("adam(lr=0.1, 3)", 14),
            ("adam(betas=(0.9 0.99))", 17),
            ("0.5", 1),
            ("adam lr=3", 6),
            ("adam(lr=#)", 9),
        ];
        for (text, col) in cases {
            match parse(text) {
                Err(Error::Syntax { column, .. }) => assert_eq!(column, col, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let s = format!("f(x={}1{})", "(".repeat(1000), ")".repeat(1000));
        assert!(matches!(parse(&s), Err(Error::Syntax { .. })));
    }

    #[test]
    fn args_binding() {
        let c = parse("step(30, gamma=0.5)").unwrap();
        let a = Args::bind(&c, &["step_size", "gamma"]).unwrap();
        assert_eq!(a.u64("step_size").unwrap(), Some(30));
        assert_eq!(a.f64("gamma").unwrap(), Some(0.5));

        let c = parse("step(step_size=30, gamma=0.5, foo=1)").unwrap();
        match Args::bind(&c, &["step_size", "gamma"]) {
            Err(Error::UnknownKey { key, valid, .. }) => {
                assert_eq!(key, "foo");
                assert_eq!(valid, vec!["step_size", "gamma"]);
            }
            other => panic!("{other:?}"),
        }
        let c = parse("step(30, 0.1, 7)").unwrap();
        assert!(Args::bind(&c, &["step_size", "gamma"]).is_err());
        let c = parse("step(30, step_size=3)").unwrap();
        assert!(Args::bind(&c, &["step_size", "gamma"]).is_err());

        let c = parse("f(a=1.5, b=(1, 2), c=[1, 2], d=true, e=x)").unwrap();
        let a = Args::bind(&c, &["a", "b", "c", "d", "e"]).unwrap();
        assert!(matches!(
            a.u64("a"),
            Err(Error::InvalidHyperparameter { .. })
        ));
        assert!(matches!(a.f64("b"), Err(Error::WrongType { .. })));
        assert_eq!(a.pair("b").unwrap(), Some((1.0, 2.0)));
        assert_eq!(a.u64_list("c").unwrap(), Some(vec![1, 2]));
        assert!(matches!(a.bool("a"), Err(Error::WrongType { .. })));
        assert_eq!(a.word("e").unwrap(), Some("x"));
        assert!(matches!(a.pair("c"), Ok(Some((1.0, 2.0)))));
        assert!(matches!(a.pair("a"), Err(Error::WrongType { .. })));
        assert!(matches!(a.call_list("c"), Err(Error::WrongType { .. })));
        assert_eq!(a.f64_req("a").unwrap(), 1.5);
        let c = parse("f").unwrap();
        let a = Args::bind(&c, &["a"]).unwrap();
        assert!(matches!(a.f64_req("a"), Err(Error::MissingArgument { .. })));
    }
}
