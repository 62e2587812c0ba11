//! yup-style validation with Strapi's exact messages (strapi-behavior.md
//! §1.2, §3.2–§3.8).
//!
//! Strapi validates request bodies with yup 0.32 in strict mode with
//! `abortEarly: false`, so every failing field is reported, in a fixed
//! order per schema. [`Yup`] checks one JSON object field by field; the
//! handlers call the checks in the order Strapi reports them and
//! [`Yup::finish`] turns the collected errors into the 400 envelope
//! (`"<N> errors occurred"` for several).
//!
//! Strict mode means no coercion: a number where a string is expected is a
//! type error (`` password must be a `string` type, but the final value
//! was: `123`. ``), which is what keeps `{"code": {"$gt": 0}}` from ever
//! reaching a database lookup (CVE-2019-18818).

use serde_json::{Map, Value};

use crate::error::{ApiError, FieldError};

/// Strapi's (and bcrypt's) password limit in UTF-8 bytes.
pub const MAX_PASSWORD_BYTES: usize = 72;

/// A yup `object()` schema being checked.
pub struct Yup<'a> {
    whole: &'a Value,
    fields: &'a Map<String, Value>,
    errors: Vec<FieldError>,
}

impl<'a> Yup<'a> {
    /// Starts checking `value`, which must be a JSON object (yup's object
    /// type check: arrays and `null` fail it, with the path `[]`).
    pub fn object(value: &'a Value) -> Result<Yup<'a>, ApiError> {
        match value {
            Value::Object(fields) => Ok(Yup {
                whole: value,
                fields,
                errors: Vec::new(),
            }),
            other => Err(ApiError::yup(vec![FieldError {
                path: Vec::new(),
                message: not_type("this", "object", other),
                value: Some(other.clone()),
            }])),
        }
    }

    /// `string().required()`: the non-empty string, or `None` after
    /// recording a type error (non-strings, including `null`) or a required
    /// error (absent or empty).
    pub fn required_string(&mut self, name: &str) -> Option<&'a str> {
        match self.fields.get(name) {
            None => {
                self.errors
                    .push(FieldError::new(name, required(name), None));
                None
            }
            Some(Value::String(s)) if s.is_empty() => {
                self.errors.push(FieldError::new(
                    name,
                    required(name),
                    Some(Value::String(String::new())),
                ));
                None
            }
            Some(Value::String(s)) => Some(s.as_str()),
            Some(other) => {
                self.push_type_error(name, "string", other);
                None
            }
        }
    }

    /// `string().email().required()`.
    pub fn required_email(&mut self, name: &str) -> Option<&'a str> {
        let value = self.required_string(name)?;
        if is_email(value) {
            return Some(value);
        }
        self.errors.push(FieldError::new(
            name,
            format!("{name} must be a valid email"),
            Some(Value::String(value.to_owned())),
        ));
        None
    }

    /// `string().required()` plus Strapi's 72-byte test.
    pub fn required_password(&mut self, name: &str) -> Option<&'a str> {
        let value = self.required_string(name)?;
        if value.len() <= MAX_PASSWORD_BYTES {
            return Some(value);
        }
        self.errors.push(FieldError::new(
            name,
            "Password must be less than 73 bytes",
            Some(Value::String(value.to_owned())),
        ));
        None
    }

    /// `string().required().oneOf([ref(other)], 'Passwords do not match')`.
    /// The type and `oneOf` checks run together (both may fail); `required`
    /// only runs when they pass. Returns whether the field is valid.
    pub fn confirmation(&mut self, name: &str, other: &str) -> bool {
        let Some(value) = self.fields.get(name) else {
            self.errors
                .push(FieldError::new(name, required(name), None));
            return false;
        };
        let mut failed = false;
        if !value.is_string() {
            self.push_type_error(name, "string", value);
            failed = true;
        }
        if !strict_equal(value, self.fields.get(other)) {
            self.errors.push(FieldError::new(
                name,
                "Passwords do not match",
                Some(value.clone()),
            ));
            failed = true;
        }
        if failed {
            return false;
        }
        if value.as_str() == Some("") {
            self.errors
                .push(FieldError::new(name, required(name), Some(value.clone())));
            return false;
        }
        true
    }

    /// `.noUnknown()`: keys not in `known`, in body order. yup reports this
    /// object-level error after every field error.
    pub fn no_unknown(&mut self, known: &[&str]) {
        let unknown: Vec<&str> = self
            .fields
            .keys()
            .map(String::as_str)
            .filter(|k| !known.contains(k))
            .collect();
        if !unknown.is_empty() {
            self.errors.push(FieldError {
                path: Vec::new(),
                message: format!("this field has unspecified keys: {}", unknown.join(", ")),
                value: Some(self.whole.clone()),
            });
        }
    }

    /// `Err` with every recorded error, or `Ok` if there were none.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::yup(self.errors))
        }
    }

    fn push_type_error(&mut self, name: &str, kind: &str, value: &Value) {
        self.errors.push(FieldError::new(
            name,
            not_type(name, kind, value),
            Some(value.clone()),
        ));
    }
}

/// `<path> is a required field`.
pub fn required(path: &str) -> String {
    format!("{path} is a required field")
}

/// Strapi's `notType` message (its `setLocale` override of yup's).
pub fn not_type(path: &str, kind: &str, value: &Value) -> String {
    format!(
        "{path} must be a `{kind}` type, but the final value was: `{}`.",
        print_value(value)
    )
}

/// Entity validation (5.49+ Document Service): `minLength`, counted in
/// UTF-16 code units as JavaScript does.
pub fn min_chars(errors: &mut Vec<FieldError>, name: &str, value: &str, min: usize) {
    if value.encode_utf16().count() < min {
        errors.push(FieldError::new(
            name,
            format!("{name} must be at least {min} characters"),
            Some(Value::String(value.to_owned())),
        ));
    }
}

/// Entity validation: `maxLength` (UTF-16 code units).
pub fn max_chars(errors: &mut Vec<FieldError>, name: &str, value: &str, max: usize) {
    if value.encode_utf16().count() > max {
        errors.push(FieldError::new(
            name,
            format!("{name} must be at most {max} characters"),
            Some(Value::String(value.to_owned())),
        ));
    }
}

/// JavaScript `===` between a field and another (absent = `undefined`):
/// objects and arrays are never equal.
fn strict_equal(a: &Value, b: Option<&Value>) -> bool {
    match (a, b) {
        (Value::Null, Some(Value::Null)) => true,
        (Value::Bool(x), Some(Value::Bool(y))) => x == y,
        (Value::String(x), Some(Value::String(y))) => x == y,
        (Value::Number(x), Some(Value::Number(y))) => x.as_f64() == y.as_f64(),
        _ => false,
    }
}

/// yup's `printValue(value, true)`: simple values printed directly, objects
/// and arrays through `JSON.stringify(…, replacer, 2)` whose replacer turns
/// every nested simple value into its printed (quoted) string.
pub fn print_value(value: &Value) -> String {
    match print_simple(value) {
        Some(s) => s,
        None => {
            let mut out = String::new();
            stringify(value, 0, &mut out);
            out
        }
    }
}

fn print_simple(value: &Value) -> Option<String> {
    match value {
        Value::Null => Some("null".into()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(js_number(n)),
        Value::String(s) => Some(format!("\"{s}\"")),
        Value::Array(_) | Value::Object(_) => None,
    }
}

fn stringify(value: &Value, indent: usize, out: &mut String) {
    let pad = |n: usize| " ".repeat(n);
    match value {
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Object(map) => {
            out.push_str("{\n");
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                out.push_str(&pad(indent + 2));
                out.push_str(&json_string(key));
                out.push_str(": ");
                stringify(item, indent + 2, out);
            }
            out.push('\n');
            out.push_str(&pad(indent));
            out.push('}');
        }
        Value::Array(items) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                out.push_str(&pad(indent + 2));
                stringify(item, indent + 2, out);
            }
            out.push('\n');
            out.push_str(&pad(indent));
            out.push(']');
        }
        simple => out.push_str(&json_string(&print_simple(simple).unwrap_or_default())),
    }
}

fn json_string(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

/// A number as JavaScript's `String(n)` prints it (for the usual cases).
fn js_number(n: &serde_json::Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    if f == 0.0 && f.is_sign_negative() {
        "-0".into()
    } else if f.fract() == 0.0 && f.abs() < 1e21 {
        format!("{f:.0}")
    } else {
        f.to_string()
    }
}

/// yup 0.32's `string().email()` regular expression (case-insensitive),
/// evaluated by hand. `U` below is its non-ASCII class
/// `[\u00A0-\uD7FF\uF900-\uFDCF\uFDF0-\uFFEF]` (UTF-16 code units, so
/// characters beyond the BMP never match).
pub fn is_email(s: &str) -> bool {
    // The local part may be quoted and contain '@'; the domain never does.
    let Some(at) = s.rfind('@') else { return false };
    let (local, domain) = (&s[..at], &s[at + 1..]);
    (dot_atom(local) || quoted(local)) && email_domain(domain)
}

fn wide(c: char) -> bool {
    matches!(u32::from(c), 0xA0..=0xD7FF | 0xF900..=0xFDCF | 0xFDF0..=0xFFEF)
}

fn atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || wide(c)
}

fn dot_atom(local: &str) -> bool {
    !local.is_empty()
        && local
            .split('.')
            .all(|atom| !atom.is_empty() && atom.chars().all(atext))
}

/// `"…"` with qtext, quoted pairs and folding white space.
fn quoted(local: &str) -> bool {
    let Some(inner) = local.strip_prefix('"').and_then(|l| l.strip_suffix('"')) else {
        return false;
    };
    let qtext = |c: char| {
        matches!(u32::from(c), 0x01..=0x08 | 0x0b | 0x0c | 0x0e..=0x1f | 0x7f | 0x21 | 0x23..=0x5b | 0x5d..=0x7e)
            || wide(c)
    };
    let pair = |c: char| matches!(u32::from(c), 0x01..=0x09 | 0x0b | 0x0c | 0x0d..=0x7f) || wide(c);
    let wsp = |c: char| c == ' ' || c == '\t';
    let mut chars = inner.chars().peekable();
    // A CRLF (folding) is allowed once between two pieces of content and
    // must be followed by white space.
    let mut fold_allowed = true;
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if !fold_allowed
                    || chars.next() != Some('\n')
                    || !chars.peek().is_some_and(|c| wsp(*c))
                {
                    return false;
                }
                fold_allowed = false;
            }
            '\\' => {
                if !chars.next().is_some_and(pair) {
                    return false;
                }
                fold_allowed = true;
            }
            c if wsp(c) => {}
            c if qtext(c) => fold_allowed = true,
            _ => return false,
        }
    }
    true
}

/// `((L)\.)+T` where a label L starts and ends with an alphanumeric and may
/// contain `-._~`, and the last label T starts and ends with a letter.
/// Because `.` is allowed inside labels, this is: every character allowed,
/// first alphanumeric, last a letter, and some `.` preceded by an
/// alphanumeric and followed by a letter.
fn email_domain(domain: &str) -> bool {
    let chars: Vec<char> = domain.chars().collect();
    let alnum = |c: char| c.is_ascii_alphanumeric() || wide(c);
    let alpha = |c: char| c.is_ascii_alphabetic() || wide(c);
    let middle = |c: char| alnum(c) || "-._~".contains(c);
    let (Some(first), Some(last)) = (chars.first(), chars.last()) else {
        return false;
    };
    chars.iter().all(|c| middle(*c))
        && alnum(*first)
        && alpha(*last)
        && chars
            .windows(3)
            .any(|w| alnum(w[0]) && w[1] == '.' && alpha(w[2]))
}
