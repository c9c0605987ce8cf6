//! Reading a request body into a JSON value, stricter than `serde_json`'s
//! default: a nesting depth limit, and duplicate keys refused (parsers
//! disagree on which one wins, so a proxy and the server could read two
//! different requests). Invalid UTF-8, lone surrogates, trailing bytes and
//! numbers out of range are refused by `serde_json` itself.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Parses `body`; the error text is fit for the client (`invalid json body! | ...`).
pub fn parse(body: &[u8], max_depth: usize) -> Result<Value, String> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = Seed {
        depth_left: max_depth,
    }
    .deserialize(&mut deserializer)
    .and_then(|value| deserializer.end().map(|()| value))
    .map_err(|e| match e.classify() {
        // Ours: too deep or a duplicate key.
        serde_json::error::Category::Data => e.to_string(),
        _ => format!("not JSON ({e})"),
    })?;
    Ok(value)
}

#[derive(Clone, Copy)]
struct Seed {
    /// How many more levels of arrays and objects may open.
    depth_left: usize,
}

impl<'de> DeserializeSeed<'de> for Seed {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl Seed {
    fn nested<E: de::Error>(self) -> Result<Seed, E> {
        match self.depth_left.checked_sub(1) {
            Some(depth_left) => Ok(Seed { depth_left }),
            None => Err(E::custom("nested too deep")),
        }
    }
}

impl<'de> Visitor<'de> for Seed {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // serde_json never produces a non-finite number; null if it did.
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = self.nested()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(inner)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let inner = self.nested()?;
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                let shown = super::short(&Value::String(key));
                return Err(de::Error::custom(format_args!("duplicate key {shown:?}")));
            }
            let value = map.next_value_seed(inner)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_is_limited() {
        assert!(parse(br#"{"a":{"b":[1]}}"#, 3).is_ok());
        let error = parse(br#"{"a":{"b":[1]}}"#, 2).unwrap_err();
        assert!(error.starts_with("nested too deep"), "{error}");
        // Far beyond serde_json's own recursion limit: still an error, no overflow.
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse(deep.as_bytes(), 32).is_err());
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let error = parse(br#"{"userid":"a","userid":"b"}"#, 8).unwrap_err();
        assert!(error.starts_with("duplicate key \"userid\""), "{error}");
        let error = parse(br#"{"u":{"x":1,"x":1}}"#, 8).unwrap_err();
        assert!(error.contains("duplicate key"), "{error}");
    }

    #[test]
    fn pathological_input() {
        for body in [
            &b"{\"a\":\"\xff\"}"[..],
            b"{\"a\":\"\\ud800\"}",
            b"{\"a\":1e400}",
            b"{\"a\":1}\0",
            b"\0",
            b"{\"a\":1} {}",
            b"",
        ] {
            let error = parse(body, 8).unwrap_err();
            assert!(error.starts_with("not JSON"), "{body:?}: {error}");
        }
        // Huge integers that fit f64 parse (the field reader rejects them).
        assert!(parse(b"{\"a\":123456789012345678901234567890}", 8).is_ok());
        // An escaped NUL is a string; the field reader rejects it.
        assert!(parse(br#"{"a":"x\u0000y"}"#, 8).is_ok());
    }
}
