//! Reading typed fields out of a request object the way the apps send them:
//! integers as numbers or numeric strings, strings as strings or numbers,
//! `null` and `""` as absent. Every error names the field.

use super::ProtocolError;
use super::json::{Json, Object};

/// A request object (or a nested object such as `userinfo`), read field by field.
pub struct Fields<'a> {
    map: &'a Object<'a>,
    /// Prefix for error messages of nested objects, e.g. `userinfo.`.
    prefix: &'static str,
}

impl<'a> Fields<'a> {
    pub fn new(map: &'a Object<'a>) -> Self {
        Self { map, prefix: "" }
    }

    /// A nested object; `prefix` (such as `userinfo.`) qualifies field names in errors.
    pub fn nested(map: &'a Object<'a>, prefix: &'static str) -> Self {
        Self { map, prefix }
    }

    fn name(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// The value of `key`, with `null` and `""` counting as absent.
    fn present(&self, key: &str) -> Option<&'a Json<'a>> {
        match self.map.get(key) {
            None | Some(Json::Null) => None,
            Some(Json::String(s)) if s.is_empty() => None,
            Some(v) => Some(v),
        }
    }

    /// A required string of at most `max` bytes; numbers are accepted as their text.
    pub fn required_str(&self, key: &str, max: usize) -> Result<String, ProtocolError> {
        match self.present(key) {
            Some(v) => self.string(key, v, max),
            None => Err(ProtocolError::missing(&self.name(key))),
        }
    }

    /// An optional string; absent is `""`, which is what the apps show.
    pub fn optional_str(&self, key: &str, max: usize) -> Result<String, ProtocolError> {
        match self.present(key) {
            Some(v) => self.string(key, v, max),
            None => Ok(String::new()),
        }
    }

    fn string(&self, key: &str, value: &Json, max: usize) -> Result<String, ProtocolError> {
        let text = match value {
            Json::String(s) => String::from(&**s),
            Json::Number(n) => n.to_string(),
            other => return Err(ProtocolError::not_string(&self.name(key), other)),
        };
        if text.len() > max {
            return Err(ProtocolError::too_long(&self.name(key), max));
        }
        // PostgreSQL cannot store NUL in text, and no app sends one.
        if text.contains('\0') {
            return Err(ProtocolError::not_string(&self.name(key), value));
        }
        Ok(text)
    }

    pub fn required_int(&self, key: &str) -> Result<i64, ProtocolError> {
        self.optional_int(key)?
            .ok_or_else(|| ProtocolError::missing(&self.name(key)))
    }

    /// An optional integer: a JSON integer, an integral float, or a numeric
    /// string such as `"20"` (the H5 page sends `type` that way).
    pub fn optional_int(&self, key: &str) -> Result<Option<i64>, ProtocolError> {
        let Some(value) = self.present(key) else {
            return Ok(None);
        };
        let parsed = match value {
            Json::Number(n) => n.as_i64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                    .map(|f| f as i64)
            }),
            Json::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        parsed
            .map(Some)
            .ok_or_else(|| ProtocolError::not_int(&self.name(key), value))
    }

    /// An optional object; anything else under that key is a 1000 error.
    pub fn optional_object(&self, key: &str) -> Result<Option<&'a Object<'a>>, ProtocolError> {
        match self.present(key) {
            None => Ok(None),
            Some(Json::Object(map)) => Ok(Some(map)),
            // iOS may send an empty array for an empty dictionary.
            Some(Json::Array(a)) if a.is_empty() => Ok(None),
            Some(other) => Err(ProtocolError::new(
                super::ErrorCode::InvalidParam,
                format!(
                    "invalid param in json from client! | {}:{} is not object!",
                    self.name(key),
                    super::short(other)
                ),
            )),
        }
    }
}
