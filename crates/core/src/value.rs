//! Attribute keys and values: the small, compact data model every record carries.

use std::borrow::Cow;
use std::fmt;

/// An attribute key. Static keys cost no allocation.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(Cow<'static, str>);

impl Key {
    /// A key from a static string, without allocating.
    pub const fn from_static(key: &'static str) -> Self {
        Key(Cow::Borrowed(key))
    }

    /// The key as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&'static str> for Key {
    fn from(key: &'static str) -> Self {
        Key(Cow::Borrowed(key))
    }
}

impl From<String> for Key {
    fn from(key: String) -> Self {
        Key(Cow::Owned(key))
    }
}

impl From<Cow<'static, str>> for Key {
    fn from(key: Cow<'static, str>) -> Self {
        Key(key)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An attribute value, mirroring OTLP's `AnyValue`.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A UTF-8 string; static strings cost no allocation.
    Str(Cow<'static, str>),
    /// A boolean.
    Bool(bool),
    /// A signed 64-bit integer.
    I64(i64),
    /// A 64-bit float (NaN and infinities are kept).
    F64(f64),
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// An ordered list of values.
    Array(Vec<Value>),
    /// A nested list of key/value pairs.
    Map(Vec<KeyValue>),
}

impl Value {
    /// The string inside, if this is a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

macro_rules! value_from {
    ($($t:ty => $variant:ident $(as $cast:ty)?),* $(,)?) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::$variant(v $(as $cast)?)
            }
        }
    )*};
}

value_from!(bool => Bool, i64 => I64, i32 => I64 as i64, u32 => I64 as i64, i16 => I64 as i64,
    u16 => I64 as i64, u8 => I64 as i64, f64 => F64, f32 => F64 as f64);

impl From<u64> for Value {
    /// Values above `i64::MAX` are kept as their decimal string, never wrapped.
    fn from(v: u64) -> Self {
        i64::try_from(v).map_or_else(|_| Value::Str(Cow::Owned(v.to_string())), Value::I64)
    }
}

impl From<usize> for Value {
    fn from(v: usize) -> Self {
        Value::from(v as u64)
    }
}

impl From<&'static str> for Value {
    fn from(v: &'static str) -> Self {
        Value::Str(Cow::Borrowed(v))
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Str(Cow::Owned(v))
    }
}

impl From<Cow<'static, str>> for Value {
    fn from(v: Cow<'static, str>) -> Self {
        Value::Str(v)
    }
}

impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Self {
        Value::Array(v)
    }
}

impl From<Vec<KeyValue>> for Value {
    fn from(v: Vec<KeyValue>) -> Self {
        Value::Map(v)
    }
}

/// One attribute: a key and its value.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyValue {
    /// The attribute's name.
    pub key: Key,
    /// The attribute's value.
    pub value: Value,
}

impl KeyValue {
    /// A new attribute.
    pub fn new(key: impl Into<Key>, value: impl Into<Value>) -> Self {
        KeyValue {
            key: key.into(),
            value: value.into(),
        }
    }
}

impl<K: Into<Key>, V: Into<Value>> From<(K, V)> for KeyValue {
    fn from((k, v): (K, V)) -> Self {
        KeyValue::new(k, v)
    }
}

/// Builds a `Vec<KeyValue>` from `key => value` pairs of mixed value types.
///
/// ```
/// let attrs = automagik_telemetry_core::attrs! { "plan" => "pro", "seats" => 3, "trial" => false };
/// assert_eq!(attrs.len(), 3);
/// ```
#[macro_export]
macro_rules! attrs {
    () => { ::std::vec::Vec::<$crate::KeyValue>::new() };
    ($($k:expr => $v:expr),+ $(,)?) => {
        vec![$($crate::KeyValue::new($k, $v)),+]
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_stay_small() {
        // The queue holds thousands of these; keep them compact.
        assert!(std::mem::size_of::<Value>() <= 32);
        assert!(std::mem::size_of::<KeyValue>() <= 56);
    }

    #[test]
    fn large_u64_is_not_wrapped() {
        assert_eq!(
            Value::from(u64::MAX),
            Value::Str(u64::MAX.to_string().into())
        );
        assert_eq!(Value::from(7u64), Value::I64(7));
    }
}
