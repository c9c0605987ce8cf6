//! Reading a request body into a JSON value, stricter than `serde_json`'s
//! default: a nesting depth limit, and duplicate keys refused (parsers
//! disagree on which one wins, so a proxy and the server could read two
//! different requests). Invalid UTF-8, lone surrogates, trailing bytes and
//! numbers out of range are refused by `serde_json` itself.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// A JSON value read from a body. Strings without escapes are borrowed
/// from the body, and an object is its members in order: reading the apps'
/// requests this way makes no allocation per key, and no copy of a string
/// before the typed request takes it (a `serde_json::Map` made both, several
/// per cent of a server's CPU in the load benchmark).
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    Null,
    Bool(bool),
    Number(Number),
    String(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    Object(Object<'a>),
}

/// An object's members in the order they came; no key twice (see [`parse`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Object<'a>(Vec<(Cow<'a, str>, Json<'a>)>);

impl<'a> Object<'a> {
    /// The value under `key`. A linear search: requests have a handful of
    /// keys, and a body's size bounds the rest.
    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The key present twice, if any.
    fn duplicate(&self) -> Option<&str> {
        let keys = &self.0;
        if keys.len() <= 16 {
            return keys.iter().enumerate().find_map(|(i, (key, _))| {
                keys[..i].iter().any(|(k, _)| k == key).then_some(&**key)
            });
        }
        let mut sorted: Vec<&str> = keys.iter().map(|(k, _)| &**k).collect();
        sorted.sort_unstable();
        sorted.windows(2).find(|w| w[0] == w[1]).map(|w| w[0])
    }
}

impl Json<'_> {
    /// The same value as serde_json's, for error messages.
    pub fn to_value(&self) -> Value {
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => Value::Number(n.clone()),
            Json::String(s) => Value::String(s.to_string()),
            Json::Array(items) => Value::Array(items.iter().map(Json::to_value).collect()),
            Json::Object(object) => Value::Object(
                object
                    .0
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_value()))
                    .collect::<Map<_, _>>(),
            ),
        }
    }
}

/// Parses `body`; the error text is fit for the client (`invalid json body! | ...`).
pub fn parse(body: &[u8], max_depth: usize) -> Result<Json<'_>, String> {
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
    type Value = Json<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Json<'de>, D::Error> {
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
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Json<'de>, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json<'de>, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Json<'de>, E> {
        // serde_json never produces a non-finite number; null if it did.
        Ok(Number::from_f64(v).map_or(Json::Null, Json::Number))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(v)))
    }

    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let inner = self.nested()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(inner)? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let inner = self.nested()?;
        let mut object = Object::default();
        while let Some(key) = map.next_key_seed(Key)? {
            let value = map.next_value_seed(inner)?;
            object.0.push((key, value));
        }
        if let Some(key) = object.duplicate() {
            let shown = super::short(&Json::String(Cow::Borrowed(key)));
            return Err(de::Error::custom(format_args!("duplicate key {shown:?}")));
        }
        Ok(Json::Object(object))
    }
}

/// An object's key, borrowed when it has no escapes.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
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
    fn duplicates_are_found_after_decoding_and_in_large_objects() {
        // The same key, once escaped: a proxy decoding it would see two.
        let error = parse(br#"{"userid":"a","\u0075serid":"b"}"#, 8).unwrap_err();
        assert!(error.starts_with("duplicate key \"userid\""), "{error}");
        // Past the pairwise check's size.
        let mut many: Vec<String> = (0..40).map(|i| format!("\"k{i}\":{i}")).collect();
        assert!(parse(format!("{{{}}}", many.join(",")).as_bytes(), 8).is_ok());
        many.push("\"k7\":0".into());
        let error = parse(format!("{{{}}}", many.join(",")).as_bytes(), 8).unwrap_err();
        assert!(error.starts_with("duplicate key \"k7\""), "{error}");
    }

    #[test]
    fn strings_are_borrowed_unless_escaped_and_read_the_same() {
        let body = br#"{"plain":"abc","escaped":"a\"b\u00e9","n":-1.5,"o":{"x":[true,null]}}"#;
        let Json::Object(object) = parse(body, 8).unwrap() else {
            panic!("an object");
        };
        assert!(matches!(
            object.get("plain"),
            Some(Json::String(Cow::Borrowed("abc")))
        ));
        match object.get("escaped") {
            Some(Json::String(Cow::Owned(s))) => assert_eq!(s, "a\"b\u{e9}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(object.get("missing"), None);
        // The same value serde_json reads, key order aside.
        let expected: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(Json::Object(object).to_value(), expected);
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
